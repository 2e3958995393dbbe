import type { Selectable } from 'kysely';
import type { Sqlite } from '../log/index.js';
import { EMAIL_TOKEN_EXPIRY_INDEX_DDL } from './counters.js';
import type { Projection } from './projection.js';
import { first, qb, run } from './query.js';

export type TokenPurpose = 'confirm' | 'reset';

export interface EmailTokensTable {
  /** sha256 of the token mailed in a link; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  purpose: TokenPurpose;
  created_at: string;
  expires_at: string;
  /** Set when the token was used, or voided by a newer token or by its purpose being done. */
  used_at: string | null;
}

export type EmailTokenRow = Selectable<EmailTokensTable>;

const voidUnused = (db: Sqlite, userId: string, purpose: TokenPurpose, at: string) =>
  run(
    db,
    qb
      .updateTable('email_tokens')
      .set({ used_at: at })
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null),
  );

const insertToken = (
  db: Sqlite,
  purpose: TokenPurpose,
  d: { userId: string; tokenHash: string; expiresAt: string },
  at: string,
) => {
  voidUnused(db, d.userId, purpose, at);
  const row = {
    token_hash: d.tokenHash,
    user_id: d.userId,
    purpose,
    created_at: at,
    expires_at: d.expiresAt,
    used_at: null,
  };
  run(
    db,
    qb
      .insertInto('email_tokens')
      .values(row)
      .onConflict((oc) => oc.column('token_hash').doUpdateSet(row)),
  );
};

/** Confirmation and reset links: one user and one purpose each, single use, expiring. */
export const emailTokensProjection: Projection = {
  name: 'email_tokens',
  version: 1,
  tables: ['email_tokens'],
  handles: [
    'EmailConfirmationRequested',
    'EmailConfirmed',
    'PasswordResetRequested',
    'PasswordReset',
    'CleanupRan',
    'UserDeleted',
  ],
  init(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS email_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        purpose TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
      ) STRICT;
      CREATE INDEX IF NOT EXISTS email_tokens_user ON email_tokens (user_id, purpose, created_at);
    `);
    db.exec(EMAIL_TOKEN_EXPIRY_INDEX_DDL);
  },
  apply(db, event) {
    switch (event.type) {
      case 'EmailConfirmationRequested':
        insertToken(db, 'confirm', event.data, event.at);
        return;
      case 'PasswordResetRequested':
        insertToken(db, 'reset', event.data, event.at);
        return;
      case 'UserDeleted':
        run(db, qb.deleteFrom('email_tokens').where('user_id', '=', event.data.userId));
        return;
      case 'EmailConfirmed':
        voidUnused(db, event.data.userId, 'confirm', event.at);
        return;
      case 'PasswordReset':
        voidUnused(db, event.data.userId, 'reset', event.at);
        return;
      case 'CleanupRan':
        run(
          db,
          qb
            .deleteFrom('email_tokens')
            .where('expires_at', '<=', event.data.emailTokensExpiredBefore),
        );
        return;
      default:
        return;
    }
  },
};

export const findEmailToken = (db: Sqlite, tokenHash: string) =>
  first(db, qb.selectFrom('email_tokens').selectAll().where('token_hash', '=', tokenHash));

/** Reset links created for a user since `since`, used or not: the mail budget. */
export const countResetRequestsSince = (db: Sqlite, userId: string, since: string): number =>
  first(
    db,
    qb
      .selectFrom('email_tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .where('purpose', '=', 'reset')
      .where('created_at', '>', since),
  )?.n ?? 0;

/** E-mail tokens a cleanup with this cutoff removes (CleanupRan). */
export const countExpiredEmailTokens = (db: Sqlite, expiredBefore: string): number =>
  first(
    db,
    qb
      .selectFrom('email_tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('expires_at', '<=', expiredBefore),
  )?.n ?? 0;
