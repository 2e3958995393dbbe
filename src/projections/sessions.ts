import type { Selectable } from 'kysely';
import type { Sqlite } from '../log/index.js';
import { SESSION_EXPIRY_INDEX_DDL } from './counters.js';
import type { Projection } from './projection.js';
import { all, first, qb, run } from './query.js';

export interface SessionsTable {
  /** sha256 of the session token; the token is only ever in the client's hands. */
  session_hash: string;
  user_id: string;
  created_at: string;
  /** Absolute end (CONTRACT.md §3.2: 24 h, no sliding renewal). */
  expires_at: string;
  ended_at: string | null;
}

export type SessionRow = Selectable<SessionsTable>;

/** Browser sessions of users. Blocking and password resets end them through SessionEnded. */
export const sessionsProjection: Projection = {
  name: 'sessions',
  version: 1,
  tables: ['sessions'],
  handles: ['UserLoggedIn', 'SessionEnded', 'CleanupRan', 'UserDeleted'],
  init(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS sessions (
        session_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        ended_at TEXT
      ) STRICT;
      CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, expires_at);
    `);
    db.exec(SESSION_EXPIRY_INDEX_DDL);
  },
  apply(db, event) {
    switch (event.type) {
      case 'UserLoggedIn': {
        const d = event.data;
        const row = {
          session_hash: d.sessionHash,
          user_id: d.userId,
          created_at: event.at,
          expires_at: d.expiresAt,
          ended_at: null,
        };
        run(
          db,
          qb
            .insertInto('sessions')
            .values(row)
            .onConflict((oc) => oc.column('session_hash').doUpdateSet(row)),
        );
        return;
      }
      case 'UserDeleted':
        run(db, qb.deleteFrom('sessions').where('user_id', '=', event.data.userId));
        return;
      case 'SessionEnded':
        run(
          db,
          qb
            .updateTable('sessions')
            .set({ ended_at: event.at })
            .where('session_hash', '=', event.data.sessionHash)
            .where('ended_at', 'is', null),
        );
        return;
      case 'CleanupRan':
        run(
          db,
          qb.deleteFrom('sessions').where('expires_at', '<=', event.data.sessionsExpiredBefore),
        );
        return;
      default:
        return;
    }
  },
};

/** Sessions a cleanup with this cutoff removes (CleanupRan). */
export const countExpiredSessions = (db: Sqlite, expiredBefore: string): number =>
  first(
    db,
    qb
      .selectFrom('sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('expires_at', '<=', expiredBefore),
  )?.n ?? 0;

/** A live session and its user, or undefined when it ended, expired or was never issued. */
export const findLiveSession = (db: Sqlite, sessionHash: string, now: string) =>
  first(
    db,
    qb
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['sessions.session_hash', 'sessions.user_id', 'sessions.expires_at'])
      .select(['users.username', 'users.blocked'])
      .where('sessions.session_hash', '=', sessionHash)
      .where('sessions.ended_at', 'is', null)
      .where('sessions.expires_at', '>', now),
  );

/** Hashes of the user's sessions that are still live at `now`: what a block or reset ends. */
export const listLiveSessionHashes = (db: Sqlite, userId: string, now: string): string[] =>
  all(
    db,
    qb
      .selectFrom('sessions')
      .select('session_hash')
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now)
      .orderBy('created_at'),
  ).map((r) => r.session_hash);

export interface AdminSessionsTable {
  /** sha256 of the admin session token. */
  session_hash: string;
  /** The config.yml admin, as written there. */
  username: string;
  created_at: string;
  /** Absolute end (RELIABILITY.md §4.11: 4 h for admins); the idle limit is kept in memory. */
  expires_at: string;
  ended_at: string | null;
}

/** Browser sessions of the web console's admins: a table of their own, never a user's. */
export const adminSessionsProjection: Projection = {
  name: 'admin_sessions',
  version: 1,
  tables: ['admin_sessions'],
  handles: ['AdminLoggedIn', 'AdminSessionEnded', 'CleanupRan'],
  init(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS admin_sessions (
        session_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        ended_at TEXT
      ) STRICT;
    `);
  },
  apply(db, event) {
    switch (event.type) {
      case 'AdminLoggedIn': {
        const row = {
          session_hash: event.data.sessionHash,
          username: event.data.username,
          created_at: event.at,
          expires_at: event.data.expiresAt,
          ended_at: null,
        };
        run(
          db,
          qb
            .insertInto('admin_sessions')
            .values(row)
            .onConflict((oc) => oc.column('session_hash').doUpdateSet(row)),
        );
        return;
      }
      case 'AdminSessionEnded':
        run(
          db,
          qb
            .updateTable('admin_sessions')
            .set({ ended_at: event.at })
            .where('session_hash', '=', event.data.sessionHash)
            .where('ended_at', 'is', null),
        );
        return;
      case 'CleanupRan':
        run(
          db,
          qb
            .deleteFrom('admin_sessions')
            .where('expires_at', '<=', event.data.sessionsExpiredBefore),
        );
        return;
      default:
        return;
    }
  },
};

/** A live admin session, or undefined when it ended, expired or was never issued. */
export const findLiveAdminSession = (db: Sqlite, sessionHash: string, now: string) =>
  first(
    db,
    qb
      .selectFrom('admin_sessions')
      .select(['session_hash', 'username', 'created_at', 'expires_at'])
      .where('session_hash', '=', sessionHash)
      .where('ended_at', 'is', null)
      .where('expires_at', '>', now),
  );
