import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

// Tokens and session ids are 32 random bytes shown once (in a mail or a login answer);
// the log keeps only their sha256, and operator tools redact even that.

/** A confirmation link was mailed; the token is valid until expiresAt or a newer one. */
export const EmailConfirmationRequested = defineEvent(
  'EmailConfirmationRequested',
  z.object({ userId: z.string(), tokenHash: z.string(), expiresAt: z.string() }),
  { redact: ['tokenHash'] },
);

/** Uses up every confirmation token of the user. */
export const EmailConfirmed = defineEvent('EmailConfirmed', z.object({ userId: z.string() }));

/** A reset link was mailed; it voids the user's older reset links. */
export const PasswordResetRequested = defineEvent(
  'PasswordResetRequested',
  z.object({ userId: z.string(), tokenHash: z.string(), expiresAt: z.string() }),
  { redact: ['tokenHash'] },
);

/**
 * A forgot-password request that mailed nothing. Recorded like a granted one so that both
 * answers cost the same (one commit), and so that operators see probing.
 */
export const PasswordResetRefused = defineEvent(
  'PasswordResetRefused',
  z.object({
    email: z.string(),
    userId: z.string().optional(),
    reason: z.enum(['unknown_email', 'too_many_requests']),
  }),
);

/** Uses up every reset token of the user. */
export const PasswordReset = defineEvent(
  'PasswordReset',
  z.object({ userId: z.string(), passwordHash: z.string() }),
  { redact: ['passwordHash'] },
);

/** A browser session began; it ends at expiresAt or with SessionEnded. */
export const UserLoggedIn = defineEvent(
  'UserLoggedIn',
  z.object({ userId: z.string(), sessionHash: z.string(), expiresAt: z.string() }),
  { redact: ['sessionHash'] },
);

export const SessionEnded = defineEvent(
  'SessionEnded',
  z.object({
    userId: z.string(),
    sessionHash: z.string(),
    reason: z.enum(['password_reset', 'blocked', 'logout']),
  }),
  { redact: ['sessionHash'] },
);

/**
 * The audit trail of refused logins, in the stream `login/<login>`. `login` is what was
 * typed (trimmed, lower-cased); userId is set when it names an account.
 */
export const LoginFailed = defineEvent(
  'LoginFailed',
  z.object({
    login: z.string(),
    userId: z.string().optional(),
    reason: z.enum(['unknown_login', 'wrong_password', 'account_blocked', 'email_not_confirmed']),
  }),
);

/**
 * Someone registered with the address of this account: the owner is told by mail instead
 * of the registrant being told the address is taken.
 */
export const RegistrationAttemptedForExistingEmail = defineEvent(
  'RegistrationAttemptedForExistingEmail',
  z.object({ userId: z.string() }),
);

export const ACCOUNT_EVENTS = [
  EmailConfirmationRequested,
  EmailConfirmed,
  PasswordResetRequested,
  PasswordResetRefused,
  PasswordReset,
  UserLoggedIn,
  SessionEnded,
  LoginFailed,
  RegistrationAttemptedForExistingEmail,
] as const;
