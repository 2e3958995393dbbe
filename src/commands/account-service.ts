import type { Clock } from '../clock.js';
import { badRequest } from '../errors.js';
import type { Ids } from '../ids.js';
import { sha256Hex, type EventMeta, type Sqlite } from '../log/index.js';
import { enqueueMail, type MailLocale } from '../mail/outbox.js';
import { findEmailToken, type EmailTokenRow } from '../projections/email-tokens.js';
import { findLookalikeUser, findUserByEmail, findUserByUsername } from '../projections/users.js';
import type { PasswordHasher } from '../security/passwords.js';
import type { TypedDigest } from '../security/typed-digest.js';
import { confirmLink, forgotLink } from './account-links.js';
import { CONFIRM_TOKEN_TTL_MS, type PresentedToken } from './account.js';
import type { CommandHandler } from './handle.js';
import { userDecider, userStream } from './user.js';
import {
  EmailSchema,
  PasswordSchema,
  UsernameSchema,
  loadUserState,
  parseOrThrow,
} from './user-service.js';

export interface SelfRegistration {
  readonly username: string;
  readonly email: string;
  readonly password: string;
  readonly locale: MailLocale;
}

export const mailLocale = (locale: string): MailLocale => (locale === 'ru' ? 'ru' : 'en');

export const presented = (row: EmailTokenRow | undefined): PresentedToken | undefined =>
  row && {
    userId: row.user_id,
    purpose: row.purpose,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  };

// Every token this server mails is 64 hex characters; anything else cannot be one.
const TOKEN_SHAPE = /^[0-9a-f]{64}$/;

/** The stored row of a mailed token of this purpose; 400 for anything else. */
export function mailedToken(
  db: Sqlite,
  token: string,
  purpose: 'confirm' | 'reset',
): EmailTokenRow {
  const row = TOKEN_SHAPE.test(token) ? findEmailToken(db, sha256Hex(token)) : undefined;
  if (!row || row.purpose !== purpose) throw badRequest('invalid or expired token');
  return row;
}

export interface AccountDeps {
  readonly db: Sqlite;
  readonly handle: CommandHandler['handle'];
  readonly hasher: PasswordHasher;
  readonly ids: Ids;
  readonly clock: Clock;
  /** The base of mailed links; later read from the admin's settings. */
  readonly publicUrl: () => string;
  /** Encrypts the params of a mail whose link carries a token, for the outbox (outbox.ts). */
  readonly sealMail: (plain: string) => string;
  /** What an address without an account becomes in the log; without it, nothing. */
  readonly digestTyped?: TypedDigest;
}

export const userStateLoader = (userId: string) => (tx: Sqlite) => loadUserState(tx, userId);

export type AccountService = ReturnType<typeof createAccountService>;

/** Self-service registration and e-mail confirmation. */
export function createAccountService(deps: AccountDeps) {
  const { db, handle, hasher, ids, clock } = deps;
  const now = () => clock.now().toISOString();
  const later = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
  const loadState = userStateLoader;

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
                  link: resent ? confirmLink(base, token) : forgotLink(base),
                  username: owner.username,
                },
              },
              clock.now(),
              resent ? { seal: deps.sealMail, expiresAt: confirmation.expiresAt } : {},
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
            usernameLookalike: findLookalikeUser(tx, username) !== undefined,
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
            { seal: deps.sealMail, expiresAt: confirmation.expiresAt },
          ),
      });
    },

    confirmEmail(token: string, meta: EventMeta): void {
      const row = mailedToken(db, token, 'confirm');
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
  };
}
