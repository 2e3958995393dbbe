import type { EventOfType } from '../log/index.js';
import { AppError, badRequest, notFound } from '../errors.js';
import type { Decider } from './decider.js';
import type { UserState } from './user.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

// RELIABILITY.md §2.7 and CONTRACT.md §3.2.
export const CONFIRM_TOKEN_TTL_MS = 48 * HOUR;
export const RESET_TOKEN_TTL_MS = 30 * MINUTE;
export const SESSION_TTL_MS = 24 * HOUR;
/** Forgot-password mails per account and hour (OWASP Forgot Password cheat sheet). */
export const RESET_MAILS_PER_HOUR = 3;

export type AccountEvent = EventOfType<
  | 'EmailConfirmationRequested'
  | 'EmailConfirmed'
  | 'PasswordResetRequested'
  | 'PasswordResetRefused'
  | 'PasswordReset'
  | 'UserLoggedIn'
  | 'SessionEnded'
  | 'RegistrationAttemptedForExistingEmail'
>;

/** What the email_tokens projection holds for a presented token, read in the transaction. */
export interface PresentedToken {
  readonly userId: string;
  readonly purpose: 'confirm' | 'reset';
  readonly expiresAt: string;
  readonly usedAt: string | null;
}

export type ConfirmEmail = {
  type: 'ConfirmEmail';
  data: { userId: string; token: PresentedToken | undefined; now: string };
};
export type RequestPasswordReset = {
  type: 'RequestPasswordReset';
  data: {
    userId: string;
    email: string;
    tokenHash: string;
    expiresAt: string;
    /** Reset links created for this user in the past hour. */
    recentResets: number;
  };
};
export type ResetPassword = {
  type: 'ResetPassword';
  data: {
    userId: string;
    token: PresentedToken | undefined;
    now: string;
    passwordHash: string;
    /** Hashes of the user's live sessions: a reset ends them all. */
    liveSessions: readonly string[];
  };
};
export type LogIn = {
  type: 'LogIn';
  data: { userId: string; sessionHash: string; expiresAt: string };
};
export type NoteRegistrationAttempt = {
  type: 'NoteRegistrationAttempt';
  /** A fresh confirmation link, used only while the account is unconfirmed. */
  data: { userId: string; confirmation: { tokenHash: string; expiresAt: string } };
};
/** sessionHash: a session the handler found live; an ended one never reaches decide. */
export type LogOut = { type: 'LogOut'; data: { userId: string; sessionHash: string } };
export type AccountCommand =
  ConfirmEmail | RequestPasswordReset | ResetPassword | LogIn | LogOut | NoteRegistrationAttempt;

type Registered = Extract<UserState, { status: 'registered' }>;

const requireAccount = (state: UserState): Registered => {
  if (state.status === 'none') throw notFound('user not found');
  return state;
};

/** One answer for unknown, used, voided and foreign tokens: none of them says more. */
function checkToken(
  token: PresentedToken | undefined,
  purpose: PresentedToken['purpose'],
  userId: string,
  now: string,
): void {
  if (!token || token.purpose !== purpose || token.userId !== userId || token.usedAt !== null) {
    throw badRequest('invalid or expired token');
  }
  if (token.expiresAt <= now) throw badRequest('token expired');
}

export function confirmEmail(command: ConfirmEmail, state: UserState): AccountEvent[] {
  const { userId, token, now } = command.data;
  requireAccount(state);
  checkToken(token, 'confirm', userId, now);
  return [{ type: 'EmailConfirmed', data: { userId } }];
}

export function requestPasswordReset(
  command: RequestPasswordReset,
  state: UserState,
): AccountEvent[] {
  const { userId, email, tokenHash, expiresAt, recentResets } = command.data;
  requireAccount(state);
  if (recentResets >= RESET_MAILS_PER_HOUR) {
    return [{ type: 'PasswordResetRefused', data: { email, userId, reason: 'too_many_requests' } }];
  }
  return [{ type: 'PasswordResetRequested', data: { userId, tokenHash, expiresAt } }];
}

export function resetPassword(command: ResetPassword, state: UserState): AccountEvent[] {
  const { userId, token, now, passwordHash, liveSessions } = command.data;
  requireAccount(state);
  checkToken(token, 'reset', userId, now);
  return [
    { type: 'PasswordReset', data: { userId, passwordHash } },
    ...liveSessions.map((sessionHash): AccountEvent => ({
      type: 'SessionEnded',
      data: { userId, sessionHash, reason: 'password_reset' },
    })),
  ];
}

export function logIn(command: LogIn, state: UserState): AccountEvent[] {
  const account = requireAccount(state);
  if (account.blocked) throw new AppError(403, 'forbidden', 'account blocked');
  if (!account.confirmed) throw new AppError(403, 'forbidden', 'email not confirmed');
  return [{ type: 'UserLoggedIn', data: command.data }];
}

export function logOut(command: LogOut, state: UserState): AccountEvent[] {
  requireAccount(state);
  return [{ type: 'SessionEnded', data: { ...command.data, reason: 'logout' } }];
}

export function noteRegistrationAttempt(
  command: NoteRegistrationAttempt,
  state: UserState,
): AccountEvent[] {
  const { userId, confirmation } = command.data;
  const account = requireAccount(state);
  const noted: AccountEvent = { type: 'RegistrationAttemptedForExistingEmail', data: { userId } };
  // An unconfirmed owner most likely lost the first mail: a fresh link is what helps.
  if (account.confirmed) return [noted];
  return [noted, { type: 'EmailConfirmationRequested', data: { userId, ...confirmation } }];
}

// Failed sign-ins are counted per window (SecurityRefusalsCounted), not recorded one by one.
export type LoginAuditEvent = EventOfType<'PasswordResetRefused'>;
/** typed: the keyed digest of the address, never the address (anyone may type anything). */
export type RecordUnknownReset = { type: 'RecordUnknownReset'; data: { typed?: string } };
export type LoginAuditCommand = RecordUnknownReset;

/** Audit records about a typed login or address, which may name no account at all. */
export const loginStream = (login: string) => `login/${login.trim().toLowerCase()}`;
/** Where refused resets for an address without an account go: its digest names the stream. */
export const unknownResetStream = (typed: string | undefined) =>
  loginStream(typed ? `typed:${typed}` : 'typed:unknown');

export const loginAuditDecider: Decider<null, LoginAuditCommand, LoginAuditEvent> = {
  initialState: () => null,
  evolve: (state) => state,
  decide(command) {
    return [
      {
        type: 'PasswordResetRefused',
        data: { ...command.data, reason: 'unknown_email' },
      },
    ];
  },
};
