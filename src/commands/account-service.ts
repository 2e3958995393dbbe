import type { Clock } from '../clock.js';
import { badRequest } from '../errors.js';
import type { Ids } from '../ids.js';
import { sha256Hex, type EventMeta, type Sqlite } from '../log/index.js';
import { enqueueMail, type MailLocale } from '../mail/outbox.js';
import {
  countResetRequestsSince,
  findEmailToken,
  type EmailTokenRow,
} from '../projections/email-tokens.js';
import { listLiveSessionHashes } from '../projections/sessions.js';
import { findUserByEmail, findUserById, findUserByUsername } from '../projections/users.js';
import type { PasswordHasher } from '../security/passwords.js';
import { confirmLink, forgotLink, loginLink, resetLink } from './account-links.js';
import {
  CONFIRM_TOKEN_TTL_MS,
  RESET_TOKEN_TTL_MS,
  loginAuditDecider,
  loginStream,
  type PresentedToken,
} from './account.js';
import type { CommandHandler } from './handle.js';
import { userDecider, userStream } from './user.js';
import {
  EmailSchema,
  PasswordSchema,
  UsernameSchema,
  loadUserState,
  parseOrThrow,
} from './user-service.js';

const HOUR = 3_600_000;

export interface SelfRegistration {
  readonly username: string;
  readonly email: string;
  readonly password: string;
  readonly locale: MailLocale;
}

export const mailLocale = (locale: string): MailLocale => (locale === 'ru' ? 'ru' : 'en');

const presented = (row: EmailTokenRow | undefined): PresentedToken | undefined =>
  row && {
    userId: row.user_id,
    purpose: row.purpose,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  };

// Every token this server mails is 64 hex characters; anything else cannot be one.
const TOKEN_SHAPE = /^[0-9a-f]{64}$/;

export type AccountService = ReturnType<typeof createAccountService>;

/** Self-service account flows: registration, e-mail confirmation, password reset. */
export function createAccountService(deps: {
  db: Sqlite;
  handle: CommandHandler['handle'];
  hasher: PasswordHasher;
  ids: Ids;
  clock: Clock;
  /** The base of mailed links; later read from the admin's settings. */
  publicUrl: () => string;
}) {
  const { db, handle, hasher, ids, clock } = deps;
  const now = () => clock.now().toISOString();
  const later = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
  const loadState = (userId: string) => (tx: Sqlite) => loadUserState(tx, userId);

  const tokenRow = (token: string, purpose: 'confirm' | 'reset') => {
    const row = TOKEN_SHAPE.test(token) ? findEmailToken(db, sha256Hex(token)) : undefined;
    if (!row || row.purpose !== purpose) throw badRequest('invalid or expired token');
    return row;
  };

  return {
    /**
     * Registers an unconfirmed user and mails a confirmation link. An address that already
     * has an account gets the same answer; its owner is mailed instead (no enumeration).
     * Both ways hash the password and commit one command, so they also take as long.
     */
    async register(input: SelfRegistration, meta: EventMeta): Promise<void> {
      const email = parseOrThrow(EmailSchema, input.email);
      const password = parseOrThrow(PasswordSchema, input.password);
      const username = parseOrThrow(UsernameSchema, input.username);
      const passwordHash = await hasher.hash(password);
      const token = ids.secret();
      const confirmation = { tokenHash: sha256Hex(token), expiresAt: later(CONFIRM_TOKEN_TTL_MS) };
      const base = deps.publicUrl();
      const owner = findUserByEmail(db, email);
      if (owner) {
        handle({
          stream: userStream(owner.id),
          decider: userDecider,
          meta,
          loadState: loadState(owner.id),
          command: { type: 'NoteRegistrationAttempt', data: { userId: owner.id, confirmation } },
          sideEffects: (tx, events) => {
            const resent = events.some((e) => e.type === 'EmailConfirmationRequested');
            enqueueMail(
              tx,
              {
                to: owner.email,
                template: resent ? 'confirm-email' : 'account-exists',
                locale: mailLocale(owner.locale),
                params: {
                  link: resent ? confirmLink(base, token) : loginLink(base),
                  username: owner.username,
                },
              },
              clock.now(),
            );
          },
        });
        return;
      }
      const userId = ids.userId();
      handle({
        stream: userStream(userId),
        decider: userDecider,
        meta,
        command: (tx) => ({
          type: 'RegisterUser' as const,
          data: {
            userId,
            username,
            email,
            passwordHash,
            confirmed: false,
            locale: input.locale,
            registeredBy: 'self' as const,
            usernameTaken: findUserByUsername(tx, username) !== undefined,
            emailTaken: findUserByEmail(tx, email) !== undefined,
            confirmation,
          },
        }),
        sideEffects: (tx) =>
          enqueueMail(
            tx,
            {
              to: email,
              template: 'confirm-email',
              locale: input.locale,
              params: { link: confirmLink(base, token), username },
            },
            clock.now(),
          ),
      });
    },

    confirmEmail(token: string, meta: EventMeta): void {
      const row = tokenRow(token, 'confirm');
      handle({
        stream: userStream(row.user_id),
        decider: userDecider,
        meta,
        loadState: loadState(row.user_id),
        command: (tx) => ({
          type: 'ConfirmEmail' as const,
          data: {
            userId: row.user_id,
            token: presented(findEmailToken(tx, row.token_hash)),
            now: now(),
          },
        }),
      });
    },

    /**
     * Mails a reset link to a known address, at most RESET_MAILS_PER_HOUR an hour. Every
     * request, known address or not, commits one event and answers the same.
     */
    requestPasswordReset(rawEmail: string, meta: EventMeta): void {
      const email = rawEmail.trim().toLowerCase();
      const token = ids.secret();
      const tokenHash = sha256Hex(token);
      const user = findUserByEmail(db, email);
      if (!user) {
        handle({
          stream: loginStream(email),
          decider: loginAuditDecider,
          meta,
          loadState: () => null,
          command: { type: 'RecordUnknownReset', data: { email } },
        });
        return;
      }
      const link = resetLink(deps.publicUrl(), token);
      handle({
        stream: userStream(user.id),
        decider: userDecider,
        meta,
        loadState: loadState(user.id),
        command: (tx) => ({
          type: 'RequestPasswordReset' as const,
          data: {
            userId: user.id,
            email,
            tokenHash,
            expiresAt: later(RESET_TOKEN_TTL_MS),
            recentResets: countResetRequestsSince(
              tx,
              user.id,
              new Date(clock.now().getTime() - HOUR).toISOString(),
            ),
          },
        }),
        sideEffects: (tx, events) => {
          if (!events.some((e) => e.type === 'PasswordResetRequested')) return;
          const mail = { link, username: user.username };
          enqueueMail(
            tx,
            {
              to: user.email,
              template: 'reset-password',
              locale: mailLocale(user.locale),
              params: mail,
            },
            clock.now(),
          );
        },
      });
    },

    /** Sets a new password from a reset link, ends every session and tells the owner. */
    async resetPassword(token: string, newPassword: string, meta: EventMeta): Promise<void> {
      const password = parseOrThrow(PasswordSchema, newPassword);
      const row = tokenRow(token, 'reset');
      if (row.used_at !== null || row.expires_at <= now()) {
        // Checked again by the decider; refusing here spares an argon2 hash.
        throw badRequest(row.used_at !== null ? 'invalid or expired token' : 'token expired');
      }
      const passwordHash = await hasher.hash(password);
      const userId = row.user_id;
      handle({
        stream: userStream(userId),
        decider: userDecider,
        meta,
        loadState: loadState(userId),
        command: (tx) => ({
          type: 'ResetPassword' as const,
          data: {
            userId,
            token: presented(findEmailToken(tx, row.token_hash)),
            now: now(),
            passwordHash,
            liveSessions: listLiveSessionHashes(tx, userId, now()),
          },
        }),
        sideEffects: (tx) => {
          const user = findUserById(tx, userId);
          if (!user) return;
          const params = { link: forgotLink(deps.publicUrl()), username: user.username };
          enqueueMail(
            tx,
            {
              to: user.email,
              template: 'password-changed',
              locale: mailLocale(user.locale),
              params,
            },
            clock.now(),
          );
        },
      });
    },
  };
}
