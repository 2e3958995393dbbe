import type { EventOfType, SeqRange } from '../log/index.js';
import { AppError, conflict } from '../errors.js';
import {
  confirmEmail,
  logIn,
  logOut,
  noteRegistrationAttempt,
  requestPasswordReset,
  resetPassword,
  type AccountCommand,
  type AccountEvent,
} from './account.js';
import type { Decider } from './decider.js';

export type UserEvent =
  EventOfType<'UserRegistered' | 'UserBlocked' | 'UserUnblocked' | 'UserDeleted'> | AccountEvent;

export type UserState =
  | { status: 'none' }
  | { status: 'registered'; userId: string; blocked: boolean; confirmed: boolean };

export type RegisterUser = {
  type: 'RegisterUser';
  data: {
    userId: string;
    username: string;
    email: string;
    passwordHash: string;
    confirmed: boolean;
    locale: string;
    registeredBy: 'self' | 'operator' | 'admin';
    /** Looked up by the handler inside the append transaction. */
    usernameTaken: boolean;
    /** Another account's name reads the same (confusables.ts), e.g. Cyrillic `аlice`. */
    usernameLookalike: boolean;
    emailTaken: boolean;
    /** The link mailed to an unconfirmed registrant. */
    confirmation?: { tokenHash: string; expiresAt: string };
  };
};
export type BlockUser = {
  type: 'BlockUser';
  /** liveSessions: hashes of the user's live browser sessions, which a block ends. */
  data: { userId: string; liveSessions: readonly string[] };
};
export type UnblockUser = { type: 'UnblockUser'; data: { userId: string } };
export type DeleteUser = {
  type: 'DeleteUser';
  /**
   * Looked up by the handler inside the append transaction: `redacted`, the events holding
   * the user's content (erased in that transaction); `blobs`, contents only they referenced.
   */
  data: { userId: string; redacted: readonly SeqRange[]; blobs: readonly string[] };
};
export type UserCommand = RegisterUser | BlockUser | UnblockUser | DeleteUser | AccountCommand;

export const LOOKALIKE_TAKEN = 'username already taken: it reads like an existing one';

export const userStream = (userId: string) => `user/${userId}`;

const requireUser = (state: UserState) => {
  if (state.status === 'none') throw new AppError(404, 'not_found', 'user not found');
  return state;
};

function register(command: RegisterUser, state: UserState): UserEvent[] {
  if (state.status !== 'none') throw conflict('user id already exists');
  const { usernameTaken, usernameLookalike, emailTaken, confirmation, ...data } = command.data;
  if (usernameTaken) throw conflict('username already taken');
  if (usernameLookalike) throw conflict(LOOKALIKE_TAKEN);
  if (emailTaken) throw conflict('email already registered');
  const registered: UserEvent = { type: 'UserRegistered', data };
  if (data.confirmed || !confirmation) return [registered];
  return [
    registered,
    { type: 'EmailConfirmationRequested', data: { userId: data.userId, ...confirmation } },
  ];
}

// Unblocking restores device tokens but not browser sessions: those end for good.
function block(command: BlockUser, state: UserState): UserEvent[] {
  if (requireUser(state).blocked) return [];
  const { userId, liveSessions } = command.data;
  return [
    { type: 'UserBlocked', data: { userId } },
    ...liveSessions.map((sessionHash): UserEvent => ({
      type: 'SessionEnded',
      data: { userId, sessionHash, reason: 'blocked' },
    })),
  ];
}

function unblock(command: UnblockUser, state: UserState): UserEvent[] {
  return requireUser(state).blocked ? [{ type: 'UserUnblocked', data: command.data }] : [];
}

function remove(command: DeleteUser, state: UserState): UserEvent[] {
  requireUser(state);
  const { userId, redacted, blobs } = command.data;
  return [
    {
      type: 'UserDeleted',
      data: { userId, redacted: redacted.map(([from, to]) => [from, to]), blobs: [...blobs] },
    },
  ];
}

export const userDecider: Decider<UserState, UserCommand, UserEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve(state, event) {
    switch (event.type) {
      case 'UserRegistered':
        return {
          status: 'registered',
          userId: event.data.userId,
          blocked: false,
          confirmed: event.data.confirmed,
        };
      case 'UserBlocked':
        return state.status === 'registered' ? { ...state, blocked: true } : state;
      case 'UserUnblocked':
        return state.status === 'registered' ? { ...state, blocked: false } : state;
      case 'EmailConfirmed':
        return state.status === 'registered' ? { ...state, confirmed: true } : state;
      case 'UserDeleted':
        return { status: 'none' };
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'RegisterUser':
        return register(command, state);
      case 'BlockUser':
        return block(command, state);
      case 'UnblockUser':
        return unblock(command, state);
      case 'DeleteUser':
        return remove(command, state);
      case 'ConfirmEmail':
        return confirmEmail(command, state);
      case 'RequestPasswordReset':
        return requestPasswordReset(command, state);
      case 'ResetPassword':
        return resetPassword(command, state);
      case 'LogIn':
        return logIn(command, state);
      case 'LogOut':
        return logOut(command, state);
      case 'NoteRegistrationAttempt':
        return noteRegistrationAttempt(command, state);
      default: {
        const unreachable: never = command;
        return unreachable;
      }
    }
  },
};
