import type { Sqlite } from '../log/index.js';
import { prepared } from './query.js';

// Read-only queries of the admin console, over the projections and the log. Plain SQL:
// device_activity is a side table outside kysely's schema.

export { adminStats, type AdminStats } from './admin-stats.js';

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

export function listUsersForAdmin(
  db: Sqlite,
  query: AdminUserQuery,
): { rows: AdminUserRow[]; total: number } {
  ensureFold(db);
  const inEmail = query.match === 'username' ? '' : 'OR instr(verstak_fold(u.email), @q) > 0';
  const where = `(@q = '' OR instr(verstak_fold(u.username), @q) > 0
      ${inEmail}) AND ${STATUS_SQL[query.status]}`;
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
