import { z } from 'zod';
import type { Clock } from '../clock.js';
import { AppError, badRequest, notFound } from '../errors.js';
import type { Ids } from '../ids.js';
import type { EventMeta, Sqlite } from '../log/index.js';
import { listLiveSessionHashes } from '../projections/sessions.js';
import { findUserByEmail, findUserById, findUserByUsername } from '../projections/users.js';
import type { PasswordHasher } from '../security/passwords.js';
import type { CommandHandler } from './handle.js';
import { userDecider, userStream, type UserState } from './user.js';

// Usernames are public handles shown in consoles and logs: letters, digits and . _ -
export const UsernameSchema = z
  .string()
  .trim()
  .regex(/^[\p{L}\p{N}._-]{1,64}$/u, 'username must be 1-64 letters, digits, dots, dashes or underscores');

// A bare address only: no display name, no CR/LF (it ends up in mail headers).
export const EmailSchema = z
  .string()
  .trim()
  .max(254, 'email is too long')
  .regex(/^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+\.[^\s@<>()",;:\\[\]]+$/, 'invalid email')
  .transform((e) => e.toLowerCase());

export const PasswordSchema = z.string().refine((p) => Buffer.byteLength(p) >= 8, {
  message: 'PASSWORD_TOO_SHORT',
}).refine((p) => Buffer.byteLength(p) <= 256, { message: 'PASSWORD_TOO_LONG' });

export const RegisterInputSchema = z.object({
  username: UsernameSchema,
  email: EmailSchema,
  password: PasswordSchema,
  confirmed: z.boolean().default(false),
  locale: z.enum(['en', 'ru']).default('en'),
});
export type RegisterInput = z.input<typeof RegisterInputSchema>;

export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.');
    throw badRequest(field ? `${field}: ${issue?.message}` : (issue?.message ?? 'invalid input'));
  }
  return result.data;
}

/**
 * A user's state from the users projection. A user's stream grows with every login, so
 * commands read this row instead of folding the stream; it holds what evolve would.
 */
export function loadUserState(db: Sqlite, userId: string): UserState {
  const row = findUserById(db, userId);
  if (!row) return { status: 'none' };
  return { status: 'registered', userId, blocked: row.blocked === 1, confirmed: row.confirmed === 1 };
}

export type UserService = ReturnType<typeof createUserService>;

export function createUserService(deps: {
  handle: CommandHandler['handle'];
  hasher: PasswordHasher;
  ids: Ids;
  clock: Clock;
}) {
  const { handle, hasher, ids, clock } = deps;
  return {
    async register(
      input: RegisterInput,
      registeredBy: 'self' | 'operator' | 'admin',
      meta: EventMeta,
    ): Promise<string> {
      const valid = parseOrThrow(RegisterInputSchema, input);
      const passwordHash = await hasher.hash(valid.password);
      const userId = ids.userId();
      handle({
        stream: userStream(userId),
        decider: userDecider,
        meta,
        command: (db) => ({
          type: 'RegisterUser' as const,
          data: {
            userId,
            username: valid.username,
            email: valid.email,
            passwordHash,
            confirmed: valid.confirmed,
            locale: valid.locale,
            registeredBy,
            usernameTaken: findUserByUsername(db, valid.username) !== undefined,
            emailTaken: findUserByEmail(db, valid.email) !== undefined,
          },
        }),
      });
      return userId;
    },
    setBlocked(userId: string, blocked: boolean, meta: EventMeta): boolean {
      const events = handle({
        stream: userStream(userId),
        decider: userDecider,
        meta,
        loadState: (db) => loadUserState(db, userId),
        command: (db) => {
          if (!findUserById(db, userId)) throw notFound('user not found');
          const liveSessions = listLiveSessionHashes(db, userId, clock.now().toISOString());
          return blocked
            ? { type: 'BlockUser' as const, data: { userId, liveSessions } }
            : { type: 'UnblockUser' as const, data: { userId } };
        },
      });
      return events.length > 0;
    },
  };
}

export { AppError };
