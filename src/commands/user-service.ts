import { z } from 'zod';
import type { Clock } from '../clock.js';
import { AppError, badRequest, notFound } from '../errors.js';
import type { Ids } from '../ids.js';
import {
  checkpointTruncate,
  findUserContent,
  redactEvents,
  toRanges,
  type EventMeta,
  type Sqlite,
} from '../log/index.js';
import { listLiveSessionHashes } from '../projections/sessions.js';
import {
  blobsOnlyReferencedBy,
  eraseUserSideTables,
  userDeviceIds,
} from '../projections/user-erasure.js';
import {
  findLookalikeUser,
  findUserByEmail,
  findUserById,
  findUserByUsername,
} from '../projections/users.js';
import type { PasswordHasher } from '../security/passwords.js';
import { hasUnsafeChars } from '../security/text-hygiene.js';
import type { CommandHandler } from './handle.js';
import { userDecider, userStream, type UserState } from './user.js';

const USERNAME_UNSAFE = 'username must not contain control characters or direction marks';
const EMAIL_UNSAFE = 'email must not contain control characters or direction marks';

// Usernames are public handles shown in consoles and logs: letters, digits and . _ -
// Stored in NFKC, so a full-width or other compatibility spelling is the plain one.
export const UsernameSchema = z
  .string()
  .trim()
  .refine((u) => !hasUnsafeChars(u), USERNAME_UNSAFE)
  .normalize('NFKC')
  .regex(
    /^[\p{L}\p{N}._-]{1,64}$/u,
    'username must be 1-64 letters, digits, dots, dashes or underscores',
  );

// A bare address only: no display name, no CR/LF (it ends up in mail headers), nothing
// that would act on a terminal when an operator lists users.
export const EmailSchema = z
  .string()
  .trim()
  .max(254, 'email is too long')
  .regex(/^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+\.[^\s@<>()",;:\\[\]]+$/, 'invalid email')
  .refine((e) => !hasUnsafeChars(e), EMAIL_UNSAFE)
  .transform((e) => e.toLowerCase());

export const PasswordSchema = z
  .string()
  .refine((p) => Buffer.byteLength(p) >= 8, {
    message: 'PASSWORD_TOO_SHORT',
  })
  .refine((p) => Buffer.byteLength(p) <= 256, { message: 'PASSWORD_TOO_LONG' });

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
  return {
    status: 'registered',
    userId,
    blocked: row.blocked === 1,
    confirmed: row.confirmed === 1,
  };
}

export type UserService = ReturnType<typeof createUserService>;

export interface UserDeletion {
  /** Seq of the UserDeleted event. */
  readonly seq: number;
  /** Earlier events whose data was replaced by the redaction marker. */
  readonly redactedEvents: number;
  /** Contents only this user referenced, now unknown to the log (cleanup removes files). */
  readonly blobs: number;
  /** False when a reader kept the WAL from being truncated; the next checkpoint clears it. */
  readonly walTruncated: boolean;
}

export function createUserService(deps: {
  db: Sqlite;
  handle: CommandHandler['handle'];
  hasher: PasswordHasher;
  ids: Ids;
  clock: Clock;
}) {
  const { db, handle, hasher, ids, clock } = deps;
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
            usernameLookalike: findLookalikeUser(db, valid.username) !== undefined,
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
    /**
     * Deletes the account and erases its content: one transaction appends UserDeleted
     * (whose projections drop every row of the user), replaces the data of the earlier
     * events holding their content with the redaction marker, and clears the side tables;
     * then a TRUNCATE checkpoint moves the zeroed pages out of the WAL (secure_delete is
     * on), so no byte of the content stays in the data directory's database files.
     */
    delete(userId: string, meta: EventMeta): UserDeletion {
      let sideTables: { userId: string; deviceIds: string[]; email: string } | undefined;
      let redactedEvents = 0;
      const [deleted] = handle({
        stream: userStream(userId),
        decider: userDecider,
        meta,
        loadState: (db) => loadUserState(db, userId),
        command: (db) => {
          const user = findUserById(db, userId);
          if (!user) throw notFound('user not found');
          sideTables = { userId, deviceIds: userDeviceIds(db, userId), email: user.email };
          const seqs = findUserContent(db, { userId, username: user.username, email: user.email });
          return {
            type: 'DeleteUser' as const,
            data: { userId, redacted: toRanges(seqs), blobs: blobsOnlyReferencedBy(db, userId) },
          };
        },
        sideEffects: (db, events) => {
          for (const event of events) {
            if (event.type !== 'UserDeleted') continue;
            redactedEvents += redactEvents(db, event.data.redacted, event.seq);
          }
          if (sideTables) eraseUserSideTables(db, sideTables);
        },
      });
      if (deleted?.type !== 'UserDeleted') throw new Error('DeleteUser appended no UserDeleted');
      return {
        seq: deleted.seq,
        redactedEvents,
        blobs: deleted.data.blobs.length,
        walTruncated: checkpointTruncate(db),
      };
    },
  };
}

export { AppError };
