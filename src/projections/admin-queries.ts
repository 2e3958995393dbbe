import type { Sqlite } from '../log/index.js';
import { prepared } from './query.js';

// Read-only queries of the admin console, over the projections and the log. Plain SQL:
// device_activity is a side table outside kysely's schema.

export interface AdminStats {
  readonly users: number;
  readonly activeUsers: number;
  readonly blockedUsers: number;
  readonly unconfirmedUsers: number;
  readonly activeDevices: number;
  readonly revokedDevices: number;
  readonly vaults: number;
  /** The vaults projection's op_count counters, summed: no scan of the ops. */
  readonly operations: number;
  readonly operations24h: number;
  readonly blobs: number;
  readonly blobBytes: number;
  /** The latest push or pull any vault saw; '' before the first. */
  readonly lastSyncActivity: string;
}

const num = (v: unknown) => (typeof v === 'number' ? v : 0);

/**
 * The first event at or after `since`, by binary search on seq: events are appended in
 * time order, so this costs log2(events) point reads instead of a scan of `at`.
 */
function firstSeqSince(db: Sqlite, since: string): number {
  const bounds = prepared(db, 'SELECT MIN(seq) AS lo, MAX(seq) AS hi FROM events').get() as {
    lo: number | null;
    hi: number | null;
  };
  if (bounds.lo === null || bounds.hi === null) return 1;
  const atOf = prepared(db, 'SELECT at FROM events WHERE seq >= ? ORDER BY seq LIMIT 1');
  let lo = bounds.lo;
  let hi = bounds.hi + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const row = atOf.get(mid) as { at: string } | undefined;
    if (row && row.at < since) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function adminStats(db: Sqlite, now: Date): AdminStats {
  const u = prepared(
    db,
    `SELECT COUNT(*) AS users,
       SUM(blocked = 0 AND confirmed = 1) AS active,
       SUM(blocked = 1) AS blocked,
       SUM(confirmed = 0) AS unconfirmed
     FROM users`,
  ).get() as Record<string, unknown>;
  const d = prepared(
    db,
    `SELECT SUM(revoked_at IS NULL) AS active, SUM(revoked_at IS NOT NULL) AS revoked FROM devices`,
  ).get() as Record<string, unknown>;
  const v = prepared(
    db,
    `SELECT COUNT(*) AS vaults, SUM(op_count) AS ops, MAX(last_activity) AS last FROM vaults`,
  ).get() as Record<string, unknown>;
  const b = prepared(db, 'SELECT COUNT(*) AS n, SUM(size) AS bytes FROM blobs').get() as Record<
    string,
    unknown
  >;
  const since = new Date(now.getTime() - 86_400_000).toISOString();
  const recent = prepared(
    db,
    `SELECT COUNT(*) AS n FROM events WHERE seq >= ? AND type = 'OperationPushed'`,
  ).get(firstSeqSince(db, since)) as { n: number };
  return {
    users: num(u.users),
    activeUsers: num(u.active),
    blockedUsers: num(u.blocked),
    unconfirmedUsers: num(u.unconfirmed),
    activeDevices: num(d.active),
    revokedDevices: num(d.revoked),
    vaults: num(v.vaults),
    operations: num(v.ops),
    operations24h: recent.n,
    blobs: num(b.n),
    blobBytes: num(b.bytes),
    lastSyncActivity: typeof v.last === 'string' ? v.last : '',
  };
}

export const USER_SORTS = {
  username: 'u.username_key',
  email: 'u.email',
  confirmed: 'u.confirmed',
  blocked: 'u.blocked',
  created_at: 'u.created_at',
  last_seen: 'last_seen',
  devices: 'devices',
} as const;
export type UserSort = keyof typeof USER_SORTS;
export type UserStatus = 'active' | 'blocked' | 'unconfirmed';

const STATUS_SQL: Record<UserStatus | '', string> = {
  '': '1',
  active: 'u.blocked = 0 AND u.confirmed = 1',
  blocked: 'u.blocked = 1',
  unconfirmed: 'u.confirmed = 0',
};

export interface AdminUserQuery {
  /** A substring of the username or e-mail, matched case-insensitively (Unicode). */
  readonly q: string;
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

export function listUsersForAdmin(
  db: Sqlite,
  query: AdminUserQuery,
): { rows: AdminUserRow[]; total: number } {
  ensureFold(db);
  const where = `(@q = '' OR instr(verstak_fold(u.username), @q) > 0
      OR instr(verstak_fold(u.email), @q) > 0) AND ${STATUS_SQL[query.status]}`;
  const needle = query.q.toLocaleLowerCase();
  const total = (
    prepared(db, `SELECT COUNT(*) AS n FROM users u WHERE ${where}`).get({ q: needle }) as {
      n: number;
    }
  ).n;
  // Both the column and the direction come from whitelists, never from the request.
  const order = `${USER_SORTS[query.sort]} ${query.order === 'asc' ? 'ASC' : 'DESC'}`;
  const rows = prepared(
    db,
    `SELECT u.id, u.username, u.email, u.confirmed, u.blocked, u.created_at,
       (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.revoked_at IS NULL) AS devices,
       (SELECT MAX(a.last_seen) FROM devices d JOIN device_activity a ON a.device_id = d.id
         WHERE d.user_id = u.id) AS last_seen
     FROM users u WHERE ${where}
     ORDER BY ${order}, u.id ${query.order === 'asc' ? 'ASC' : 'DESC'}
     LIMIT @limit OFFSET @offset`,
  ).all({
    q: needle,
    limit: query.perPage,
    offset: (query.page - 1) * query.perPage,
  }) as AdminUserRow[];
  return { rows, total };
}
