import type { Sqlite } from '../log/index.js';
import type { AdminDeviceRow } from './admin-inventory.js';
import { prepared } from './query.js';

// Read-only queries of the admin console, over the projections and the log. Plain SQL:
// device_activity is a side table outside kysely's schema.

export { adminStats, type AdminStats } from './admin-stats.js';

// Per-user device figures, looked up by devices_user (user_id, created_at) for each row.
const DEVICE_COUNT_SQL = `(SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id
  AND d.revoked_at IS NULL)`;
const LAST_SEEN_SQL = `(SELECT MAX(a.last_seen) FROM devices d
  JOIN device_activity a ON a.device_id = d.id WHERE d.user_id = u.id)`;

// Each sort walks an index (username_key and email are UNIQUE, the others end with id so
// that ties need no sort of their own): those of users.ts, and for the last two the kept
// figures, user_device_counts (devices.ts) and user_activity (device-activity.ts), whose
// rows are then joined to users by key (userListSql). The values name the order's key.
export const USER_SORTS = {
  username: 'u.username_key',
  email: 'u.email',
  confirmed: 'u.confirmed',
  blocked: 'u.blocked',
  created_at: 'u.created_at',
  last_seen: 'a.last_seen',
  devices: 'c.active',
} as const;
export type UserSort = keyof typeof USER_SORTS;
export type UserStatus = 'active' | 'blocked' | 'unconfirmed';

export interface AdminUserQuery {
  /** A substring of the username or e-mail, matched case-insensitively (Unicode). */
  readonly q: string;
  /** Where `q` is looked for: both by default; the JSON API's `filter` is the username only. */
  readonly match?: 'username' | 'both';
  readonly status: UserStatus | '';
  readonly sort: UserSort;
  readonly order: 'asc' | 'desc';
  readonly page: number;
  readonly perPage: number;
}

export interface AdminUserRow {
  readonly id: string;
  readonly username: string;
  readonly email: string;
  readonly confirmed: number;
  readonly blocked: number;
  readonly created_at: string;
  /** Active (unrevoked) devices. */
  readonly devices: number;
  readonly last_seen: string | null;
}

// SQLite's lower() folds ASCII only; the console is used with Cyrillic names as well.
const folding = new WeakSet<Sqlite>();
export function ensureFold(db: Sqlite) {
  if (folding.has(db)) return;
  db.function('verstak_fold', { deterministic: true }, (s: unknown) =>
    typeof s === 'string' ? s.toLocaleLowerCase() : '',
  );
  folding.add(db);
}

/**
 * `column` contains the needle @q (folded by the caller). A search reads every user
 * whatever the plan, so it is kept cheap per row: lower() (ASCII, in C) settles ASCII
 * values, and only values with other characters pay for the Unicode fold (a call into JS).
 */
const folded = (column: string) =>
  `(instr(lower(${column}), @q) > 0 OR (length(${column}) <> octet_length(${column})
    AND instr(verstak_fold(${column}), @q) > 0))`;

/**
 * Only the filters given become conditions: `@q = '' OR …` would hide them from the
 * planner. `forPage`: the page's ids rather than the count. Most users are active, so the
 * page walks the sort's index and skips the others (the unary + keeps users_status out),
 * where users_status would fetch every active user and sort them all; the count reads
 * users_status alone. Blocked and unconfirmed users are few: their index finds them.
 */
function userWhere(query: AdminUserQuery, forPage: boolean): string {
  const parts: string[] = [];
  if (query.q) {
    // username_key is the name lower-cased in full Unicode (users.ts): no fold needed.
    parts.push(
      query.match === 'username'
        ? 'instr(u.username_key, @q) > 0'
        : `(instr(u.username_key, @q) > 0 OR ${folded('u.email')})`,
    );
  }
  if (query.status === 'active') {
    parts.push(
      forPage ? '+u.blocked = 0 AND +u.confirmed = 1' : 'u.blocked = 0 AND u.confirmed = 1',
    );
  }
  if (query.status === 'blocked') parts.push('u.blocked = 1');
  if (query.status === 'unconfirmed') parts.push('u.confirmed = 0');
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

/**
 * The SQL of the users list, exposed for the EXPLAIN QUERY PLAN test: `count`, and `rows`,
 * the page's ids in order. A search reads every user whatever the plan, so its total comes
 * with the page (one pass, not two).
 */
export function userListSql(query: AdminUserQuery): { count: string; rows: string } {
  const dir = query.order === 'asc' ? 'ASC' : 'DESC';
  const count = `SELECT COUNT(*) AS n FROM users u ${userWhere(query, false)}`;
  if (query.sort === 'last_seen') return { count, rows: lastSeenRowsSql(query, dir) };
  const total = query.q ? ', COUNT(*) OVER () AS total' : '';
  // Every user has a count row (devices.ts): CROSS JOIN keeps the walk of
  // user_device_counts_active outermost, users looked up by key for the filters. A search
  // reads every user anyway and sorts its matches: users first, counts by key.
  const from =
    query.sort !== 'devices'
      ? 'users u'
      : query.q
        ? 'users u CROSS JOIN user_device_counts c ON c.user_id = u.id'
        : 'user_device_counts c CROSS JOIN users u ON u.id = c.user_id';
  const tie = query.sort === 'devices' ? 'c.user_id' : 'u.id';
  const where = userWhere(query, true);
  return {
    count,
    // Both the column and the direction come from whitelists, never from the request.
    rows: `SELECT u.id${total} FROM ${from} ${where}
     ORDER BY ${USER_SORTS[query.sort]} ${dir}, ${tie} ${dir}
     LIMIT @limit OFFSET @offset`,
  };
}

/**
 * By last request, in the order the per-user MAX gave with SQLite's NULLs (smallest first):
 * ascending, the never-seen users (no user_activity row) by id, then the seen ones by
 * (last_seen, id); descending, the reverse. Two index walks, user_activity_last_seen and
 * users' key, each stopped after @limit + @offset rows, and a UNION ALL that yields its
 * arms one after the other (SQLite runs a compound's arms in order; an ORDER BY over the
 * whole would sort instead of walking). No window total here (it would count the page
 * only): a search's total is counted apart.
 */
function lastSeenRowsSql(query: AdminUserQuery, dir: 'ASC' | 'DESC'): string {
  const where = userWhere(query, true);
  const and = where ? `${where} AND` : 'WHERE';
  // A search reads every user anyway: users first, their row looked up by key.
  const from = query.q
    ? 'users u CROSS JOIN user_activity a ON a.user_id = u.id'
    : 'user_activity a CROSS JOIN users u ON u.id = a.user_id';
  const seen = `SELECT * FROM (SELECT u.id FROM ${from} ${where}
    ORDER BY a.last_seen ${dir}, a.user_id ${dir} LIMIT @limit + @offset)`;
  const unseen = `SELECT * FROM (SELECT u.id FROM users u
    ${and} NOT EXISTS (SELECT 1 FROM user_activity a WHERE a.user_id = u.id)
    ORDER BY u.id ${dir} LIMIT @limit + @offset)`;
  const [first, second] = dir === 'ASC' ? [unseen, seen] : [seen, unseen];
  return `SELECT id FROM (${first} UNION ALL ${second}) LIMIT @limit OFFSET @offset`;
}

const USER_COLUMNS = `u.id, u.username, u.email, u.confirmed, u.blocked, u.created_at,
  ${DEVICE_COUNT_SQL} AS devices, ${LAST_SEEN_SQL} AS last_seen`;

/** The shown columns of a page's users, by id (a JSON array). */
export const USER_PAGE_SQL = `SELECT ${USER_COLUMNS}
  FROM users u WHERE u.id IN (SELECT value FROM json_each(@ids))`;

// Read in two steps (a deferred join), as the devices list is: the page's ids by the
// filters and the sort alone, then the shown columns of those rows; the skipped rows of a
// far page never pay for their device figures.
export function listUsersForAdmin(
  db: Sqlite,
  query: AdminUserQuery,
): { rows: AdminUserRow[]; total: number } {
  ensureFold(db);
  const sql = userListSql(query);
  const params: Record<string, string> = query.q ? { q: query.q.toLocaleLowerCase() } : {};
  const keys = prepared(db, sql.rows).all({
    ...params,
    limit: query.perPage,
    offset: (query.page - 1) * query.perPage,
  }) as { id: string; total?: number }[];
  // Past the last page a search has no row to carry its total: count then.
  const total = keys[0]?.total ?? (prepared(db, sql.count).get(params) as { n: number }).n;
  if (keys.length === 0) return { rows: [], total };
  const found = prepared(db, USER_PAGE_SQL).all({
    ids: JSON.stringify(keys.map((k) => k.id)),
  }) as AdminUserRow[];
  const byId = new Map(found.map((row) => [row.id, row]));
  return {
    rows: keys.map((k) => byId.get(k.id)).filter((r): r is AdminUserRow => r !== undefined),
    total,
  };
}

/** At most this many of a user's devices and vaults on their page (a page stays under 60 KB); the lists hold all. */
export const USER_DETAIL_LIMIT = 25;

export interface AdminUserVaultRow {
  readonly vault_id: string;
  readonly op_count: number;
  readonly last_activity: string;
}

export interface AdminUserDetail {
  readonly user: AdminUserRow;
  readonly devices: readonly AdminUserDeviceRow[];
  readonly deviceCount: number;
  readonly vaults: readonly AdminUserVaultRow[];
  readonly vaultCount: number;
}

/** A device as the shared device table shows it. */
export type AdminUserDeviceRow = AdminDeviceRow;

// Point reads: the primary key, devices_user (user_id, created_at), vaults' UNIQUE
// (user_id, vault_id).
export const USER_DETAIL_SQL = {
  user: `SELECT ${USER_COLUMNS} FROM users u WHERE u.id = @id`,
  devices: `SELECT d.id, d.name, d.user_id, u.username, d.vault_id, d.client_version,
      d.created_at, d.revoked_at, a.last_seen
    FROM devices d JOIN users u ON u.id = d.user_id
    LEFT JOIN device_activity a ON a.device_id = d.id
    WHERE d.user_id = @id ORDER BY d.created_at, d.id LIMIT @limit`,
  deviceCount: 'SELECT COUNT(*) AS n FROM devices WHERE user_id = @id',
  vaults: `SELECT vault_id, op_count, last_activity FROM vaults WHERE user_id = @id
    ORDER BY vault_id LIMIT @limit`,
  vaultCount: 'SELECT COUNT(*) AS n FROM vaults WHERE user_id = @id',
} as const;

/** One user's account, devices and vaults, for the console's user page. */
export function userDetailForAdmin(db: Sqlite, id: string): AdminUserDetail | undefined {
  const user = prepared(db, USER_DETAIL_SQL.user).get({ id }) as AdminUserRow | undefined;
  if (!user) return undefined;
  const limit = USER_DETAIL_LIMIT;
  const count = (sql: string) => (prepared(db, sql).get({ id }) as { n: number }).n;
  return {
    user,
    devices: prepared(db, USER_DETAIL_SQL.devices).all({ id, limit }) as AdminUserDeviceRow[],
    deviceCount: count(USER_DETAIL_SQL.deviceCount),
    vaults: prepared(db, USER_DETAIL_SQL.vaults).all({ id, limit }) as AdminUserVaultRow[],
    vaultCount: count(USER_DETAIL_SQL.vaultCount),
  };
}
