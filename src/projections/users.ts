import type { Selectable } from 'kysely';
import type { Sqlite } from '../log/index.js';
import { usernameSkeleton } from '../security/confusables.js';
import { USER_STATUS_INDEX_DDL } from './counters.js';
import type { Projection } from './projection.js';
import { all, first, prepared, qb, run } from './query.js';

export interface UsersTable {
  id: string;
  username: string;
  /** Lower-cased username: handles are unique regardless of case. */
  username_key: string;
  /**
   * How the name reads (confusables.ts): registration refuses a name whose skeleton another
   * account has. Not unique: logs written before the rule may hold two such accounts, and a
   * replay must still build.
   */
  username_skeleton: string;
  email: string;
  password_hash: string;
  confirmed: number;
  blocked: number;
  locale: string;
  created_at: string;
}

export type UserRow = Selectable<UsersTable>;

const UPSERT_REGISTERED = `
  INSERT INTO users (id, username, username_key, username_skeleton, email, password_hash, confirmed, blocked, locale, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
  ON CONFLICT (id) DO UPDATE SET username = excluded.username,
    username_key = excluded.username_key, username_skeleton = excluded.username_skeleton,
    email = excluded.email,
    password_hash = excluded.password_hash, confirmed = excluded.confirmed, blocked = 0,
    locale = excluded.locale, created_at = excluded.created_at`;

const hasColumn = (db: Sqlite, table: string, column: string) =>
  db.prepare('SELECT 1 FROM pragma_table_info(?) WHERE name = ?').get(table, column) !== undefined;

export const usersProjection: Projection = {
  name: 'users',
  // v5: username_skeleton.
  version: 5,
  tables: ['users'],
  deferredIndexes: [
    'users_username_key',
    'users_username_skeleton',
    'users_email',
    'users_status',
    'users_created',
    'users_confirmed',
    'users_blocked',
  ],
  handles: [
    'UserRegistered',
    'UserBlocked',
    'UserUnblocked',
    'EmailConfirmed',
    'PasswordReset',
    'UserUpdated',
    'UserDeleted',
  ],
  init(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        username_key TEXT NOT NULL,
        username_skeleton TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        confirmed INTEGER NOT NULL,
        blocked INTEGER NOT NULL,
        locale TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
      -- Named indexes rather than UNIQUE columns, so that a replay builds them once over
      -- the loaded rows (deferredIndexes) instead of inserting a million random keys into
      -- each; a column constraint's index cannot be dropped.
      CREATE UNIQUE INDEX IF NOT EXISTS users_username_key ON users (username_key);
      CREATE UNIQUE INDEX IF NOT EXISTS users_email ON users (email);
    `);
    // A table from before v5 gets the column when the version bump rebuilds it.
    if (hasColumn(db, 'users', 'username_skeleton')) {
      db.exec('CREATE INDEX IF NOT EXISTS users_username_skeleton ON users (username_skeleton)');
    }
    db.exec(USER_STATUS_INDEX_DDL);
    // The admin users list walks these to sort (admin-queries.ts); id last, so that ties
    // come in order without a sort. username_key and email have their unique indexes.
    // IF NOT EXISTS on every start: adding one needs no rebuild of the projection.
    db.exec(`
      CREATE INDEX IF NOT EXISTS users_created ON users (created_at, id);
      CREATE INDEX IF NOT EXISTS users_confirmed ON users (confirmed, id);
      CREATE INDEX IF NOT EXISTS users_blocked ON users (blocked, id);
    `);
  },
  apply(db, event) {
    switch (event.type) {
      case 'UserRegistered': {
        // Plain SQL prepared once: a replay of a million registrations spent more time
        // building this statement with the query builder than running it.
        const d = event.data;
        prepared(db, UPSERT_REGISTERED).run(
          d.userId,
          d.username,
          d.username.toLowerCase(),
          usernameSkeleton(d.username),
          d.email,
          d.passwordHash,
          d.confirmed ? 1 : 0,
          d.locale,
          event.at,
        );
        return;
      }
      case 'UserBlocked':
      case 'UserUnblocked':
        run(
          db,
          qb
            .updateTable('users')
            .set({ blocked: event.type === 'UserBlocked' ? 1 : 0 })
            .where('id', '=', event.data.userId),
        );
        return;
      case 'EmailConfirmed':
        run(db, qb.updateTable('users').set({ confirmed: 1 }).where('id', '=', event.data.userId));
        return;
      case 'PasswordReset':
        run(
          db,
          qb
            .updateTable('users')
            .set({ password_hash: event.data.passwordHash })
            .where('id', '=', event.data.userId),
        );
        return;
      case 'UserUpdated': {
        const { userId, username, email } = event.data;
        run(
          db,
          qb
            .updateTable('users')
            .set({
              username,
              username_key: username.toLowerCase(),
              username_skeleton: usernameSkeleton(username),
              email,
            })
            .where('id', '=', userId),
        );
        return;
      }
      // The username and address become free to register again.
      case 'UserDeleted':
        run(db, qb.deleteFrom('users').where('id', '=', event.data.userId));
        return;
      default:
        return;
    }
  },
};

export const findUserById = (db: Sqlite, id: string) =>
  first(db, qb.selectFrom('users').selectAll().where('id', '=', id));

const findUserByKey = (db: Sqlite, key: string) =>
  first(db, qb.selectFrom('users').selectAll().where('username_key', '=', key));

/**
 * The account whose handle this is: the name as typed, lower-cased (today's key, so a
 * name stored before NFKC still finds its own account first), else its NFKC form, which is
 * how names are stored now (a full-width `ａｌｉｃｅ` is `alice`). Never by skeleton: a
 * look-alike name reaches no account but its own.
 */
export const findUserByUsername = (db: Sqlite, username: string) => {
  const typed = username.toLowerCase();
  const normal = username.normalize('NFKC').toLowerCase();
  return findUserByKey(db, typed) ?? (normal !== typed ? findUserByKey(db, normal) : undefined);
};

/** An account, other than `exceptId`, whose name reads like `username`. */
export const findLookalikeUser = (db: Sqlite, username: string, exceptId = '') =>
  first(
    db,
    qb
      .selectFrom('users')
      .selectAll()
      .where('username_skeleton', '=', usernameSkeleton(username))
      .where('id', '!=', exceptId),
  );

export const findUserByEmail = (db: Sqlite, email: string) =>
  first(db, qb.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()));

/** The desktop and the login forms accept a username or an e-mail address. */
export const findUserByLogin = (db: Sqlite, login: string): UserRow | undefined => {
  const key = login.trim();
  return findUserByUsername(db, key) ?? findUserByEmail(db, key);
};

export const listUsers = (db: Sqlite) =>
  all(db, qb.selectFrom('users').selectAll().orderBy('created_at').orderBy('id'));
