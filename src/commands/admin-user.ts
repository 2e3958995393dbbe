import { conflict, notFound } from '../errors.js';
import type { EventOfType } from '../log/index.js';
import type { Decider } from './decider.js';
import { LOOKALIKE_TAKEN, type UserState } from './user.js';

// What an admin does to an account beyond blocking, confirming and deleting (CONTRACT.md
// §10, §11): change its handle or address, and set a new password it cannot choose.

export type AdminUserEvent = EventOfType<'UserUpdated' | 'PasswordReset' | 'SessionEnded'>;

export type UpdateUser = {
  type: 'UpdateUser';
  data: {
    userId: string;
    username: string;
    email: string;
    /** Looked up by the handler inside the append transaction. */
    current: { username: string; email: string };
    /** Another account holds the name or the address (the user's own never counts). */
    usernameTaken: boolean;
    usernameLookalike: boolean;
    emailTaken: boolean;
  };
};

export type AdminResetPassword = {
  type: 'AdminResetPassword';
  /** liveSessions: the user's live browser sessions, which a new password ends. */
  data: { userId: string; passwordHash: string; liveSessions: readonly string[] };
};

export type AdminUserCommand = UpdateUser | AdminResetPassword;

function update(command: UpdateUser, state: UserState): AdminUserEvent[] {
  if (state.status === 'none') throw notFound('user not found');
  const { userId, username, email, current, usernameTaken, usernameLookalike, emailTaken } =
    command.data;
  if (usernameTaken) throw conflict('username already taken');
  if (usernameLookalike) throw conflict(LOOKALIKE_TAKEN);
  if (emailTaken) throw conflict('email already registered');
  if (username === current.username && email === current.email) return [];
  return [{ type: 'UserUpdated', data: { userId, username, email } }];
}

// The same PasswordReset a mailed link records (the meta names the admin): it also voids
// any reset link still out, which is what a new password should do.
function resetPassword(command: AdminResetPassword, state: UserState): AdminUserEvent[] {
  if (state.status === 'none') throw notFound('user not found');
  const { userId, passwordHash, liveSessions } = command.data;
  return [
    { type: 'PasswordReset', data: { userId, passwordHash } },
    ...liveSessions.map((sessionHash): AdminUserEvent => ({
      type: 'SessionEnded',
      data: { userId, sessionHash, reason: 'password_reset' },
    })),
  ];
}

export const adminUserDecider: Decider<UserState, AdminUserCommand, AdminUserEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve: (state) => state,
  decide(command, state) {
    switch (command.type) {
      case 'UpdateUser':
        return update(command, state);
      case 'AdminResetPassword':
        return resetPassword(command, state);
      default: {
        const unreachable: never = command;
        return unreachable;
      }
    }
  },
};
