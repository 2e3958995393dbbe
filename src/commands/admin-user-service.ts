import type { Clock } from '../clock.js';
import { notFound } from '../errors.js';
import type { EventMeta, Sqlite } from '../log/index.js';
import { listLiveSessionHashes } from '../projections/sessions.js';
import {
  findLookalikeUser,
  findUserByEmail,
  findUserById,
  findUserByUsername,
} from '../projections/users.js';
import type { PasswordHasher } from '../security/passwords.js';
import { adminUserDecider } from './admin-user.js';
import type { CommandHandler } from './handle.js';
import { userStream } from './user.js';
import {
  EmailSchema,
  loadUserState,
  parseOrThrow,
  PasswordSchema,
  UsernameSchema,
} from './user-service.js';
import { z } from 'zod';

const UpdateInput = z.object({ username: UsernameSchema, email: EmailSchema });

export type AdminUserService = ReturnType<typeof createAdminUserService>;

/** The console's edits of an account; the handler looks up uniqueness inside its transaction. */
export function createAdminUserService(deps: {
  db: Sqlite;
  handle: CommandHandler['handle'];
  hasher: PasswordHasher;
  clock: Clock;
}) {
  const { handle, hasher, clock } = deps;
  return {
    /** Throws 400 for a bad name or address, 404 for an unknown user, 409 when taken. */
    update(userId: string, input: { username: string; email: string }, meta: EventMeta): boolean {
      const valid = parseOrThrow(UpdateInput, input);
      const events = handle({
        stream: userStream(userId),
        decider: adminUserDecider,
        meta,
        loadState: (db) => loadUserState(db, userId),
        command: (db) => {
          const user = findUserById(db, userId);
          if (!user) throw notFound('user not found');
          const byName = findUserByUsername(db, valid.username);
          const byEmail = findUserByEmail(db, valid.email);
          return {
            type: 'UpdateUser' as const,
            data: {
              userId,
              username: valid.username,
              email: valid.email,
              current: { username: user.username, email: user.email },
              usernameTaken: byName !== undefined && byName.id !== userId,
              usernameLookalike: findLookalikeUser(db, valid.username, userId) !== undefined,
              emailTaken: byEmail !== undefined && byEmail.id !== userId,
            },
          };
        },
      });
      return events.length > 0;
    },

    /** Sets `password` (chosen by the caller) and ends the user's browser sessions. */
    async resetPassword(userId: string, password: string, meta: EventMeta): Promise<void> {
      parseOrThrow(PasswordSchema, password);
      // Checked before argon2 runs, so an unknown id costs no hash.
      if (!findUserById(deps.db, userId)) throw notFound('user not found');
      const passwordHash = await hasher.hash(password);
      handle({
        stream: userStream(userId),
        decider: adminUserDecider,
        meta,
        loadState: (db) => loadUserState(db, userId),
        command: (db) => ({
          type: 'AdminResetPassword' as const,
          data: {
            userId,
            passwordHash,
            liveSessions: listLiveSessionHashes(db, userId, clock.now().toISOString()),
          },
        }),
      });
    },
  };
}
