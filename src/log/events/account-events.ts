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
 * A forgot-password request that mailed nothing: recorded like a granted one, so that both
 * do the same kind of work after their (equal) answers, and so that operators see probing.
 * For an address that names no account, `typed` is its keyed digest (security/typed-digest.ts,
 * absent when the key cannot be read) in the stream `login/typed:<digest>`; older servers kept
 * the address itself in `email` and in the stream's name. Too many requests for an account
 * name it by userId and its own address.
 */
export const PasswordResetRefused = defineEvent(
  'PasswordResetRefused',
  z.object({
    email: z.string().optional(),
    typed: z.string().optional(),
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
 * A refused login, one event per attempt, in the stream `login/<login>`: written by older
 * servers only, and kept readable for their logs. `login` is what was typed (trimmed,
 * lower-cased), userId is set when it named an account. Refused logins are now counted in
 * SecurityRefusalsCounted, which names the account's id or a keyed digest of what was
 * typed, never the text. Readers show neither `login` nor the stream's name (audit-lines),
 * and erasure of a user matches these by userId or by the user's username and address.
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
