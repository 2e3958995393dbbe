import type { Sqlite } from '../log/index.js';
import { ensureFold } from './admin-queries.js';
import { prepared } from './query.js';

// The console's devices and vaults pages (CONTRACT.md §9): devices joined to their owner
// and to the device_activity side table, vaults from the vaults projection. Each list
// builds its WHERE from the filters given, so that the planner can use an index.

export const DEVICE_SORTS = {
  name: 'd.name',
  user: 'u.username_key',
  last_seen: 'a.last_seen',
  created: 'd.created_at',
} as const;
export type DeviceSort = keyof typeof DEVICE_SORTS;

export interface AdminDeviceQuery {
  /** A substring of the name, vault, client version or owner's username (Unicode fold). */
  readonly q: string;
  /** Exact filters; '' leaves the column out of the WHERE clause (so indexes apply). */
  readonly user: string;
  readonly vault: string;
  readonly version: string;
  readonly status: 'active' | 'revoked' | '';
  readonly sort: DeviceSort;
  readonly order: 'asc' | 'desc';
  readonly page: number;
  readonly perPage: number;
}

export interface AdminDeviceRow {
  /** For the row's action forms only: the pages never show it as text. */
  readonly id: string;
  readonly name: string;
  readonly user_id: string;
  readonly username: string;
  readonly vault_id: string;
  readonly client_version: string;
  readonly created_at: string;
  readonly revoked_at: string | null;
  readonly last_seen: string | null;
}

const DEVICES_FROM = `FROM devices d JOIN users u ON u.id = d.user_id
  LEFT JOIN device_activity a ON a.device_id = d.id`;

// A list is read in two steps (a deferred join): the page's device ids, found by the
// filters and the sort alone, then the shown columns of those 25 rows. Sorting or skipping
// ids is cheap; carrying each skipped row's owner and activity through the sort was not
// (the last of 800 pages took 36 ms at 20,000 devices, a last-seen sort 78 ms).

/**
 * `column` contains the needle @q (folded by the caller). A search reads every row whatever
 * the plan, so this is made cheap per row: SQLite's lower() (ASCII only, in C) settles every
 * ASCII value, and only values with other characters (length in characters differs from
 * bytes) pay for the Unicode fold, a call into JS.
 */
const folded = (column: string) =>
  `(instr(lower(${column}), @q) > 0 OR (length(${column}) <> octet_length(${column})
    AND instr(verstak_fold(${column}), @q) > 0))`;

/**
 * Owners whose name matches, each looked at once rather than once per device or vault:
 * username_key is the name lower-cased in full Unicode (users.ts), so no fold is needed.
 */
const OWNER_MATCHES = 'SELECT id FROM users WHERE instr(username_key, @q) > 0';
const DEVICE_SEARCH = `(${folded('d.name')} OR ${folded('d.vault_id')}
  OR ${folded('d.client_version')} OR d.user_id IN (${OWNER_MATCHES}))`;

/**
 * Only the filters given become conditions: `@x = '' OR col = @x` would defeat the indexes.
 * `forPage`: the page's ids rather than the count. Nine devices in ten are active, so the
 * page walks the sort's index and skips revoked ones (the unary + keeps devices_revoked
 * out), where devices_revoked would fetch every active device and sort them all; the count
 * reads devices_revoked alone.
 */
function deviceWhere(query: AdminDeviceQuery, forPage: boolean): string {
  const parts: string[] = [];
  if (query.q) parts.push(DEVICE_SEARCH);
  if (query.user) parts.push('d.user_id = @user');
  // Driven from users by username, the owner's filter must name u as well to be a lookup.
  if (query.user && forPage && query.sort === 'user') parts.push('u.id = @user');
  if (query.vault) parts.push('d.vault_id = @vault');
  if (query.version) parts.push('d.client_version = @version');
  if (query.status === 'active') {
    parts.push(forPage ? '+d.revoked_at IS NULL' : 'd.revoked_at IS NULL');
  }
  // On a TEXT column `>= ''` is IS NOT NULL, written as a range so devices_revoked serves it.
  if (query.status === 'revoked') parts.push("d.revoked_at >= ''");
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

/**
 * The tables a step needs. Every device has its owner (a UserDeleted drops both), so the
 * owner is joined only to sort by name: CROSS JOIN keeps users outside, walking
 * usernames in order. Activity is joined only to sort by it.
 */
function deviceSource(query: AdminDeviceQuery, forPage: boolean): string {
  if (forPage && query.sort === 'user') {
    return 'FROM users u CROSS JOIN devices d ON d.user_id = u.id';
  }
  return forPage && query.sort === 'last_seen'
    ? 'FROM devices d LEFT JOIN device_activity a ON a.device_id = d.id'
    : 'FROM devices d';
}

const deviceParams = (query: AdminDeviceQuery) => {
  const params: Record<string, string | number> = {};
  if (query.q) params.q = query.q.toLocaleLowerCase();
  if (query.user) params.user = query.user;
  if (query.vault) params.vault = query.vault;
  if (query.version) params.version = query.version;
  return params;
};

/**
 * The SQL of the devices list, exposed for the EXPLAIN QUERY PLAN test: `count`, and `rows`,
 * the page's ids in order. A search reads every device whatever the plan, so its total
 * comes with the page (one pass, not two).
 */
export function deviceListSql(query: AdminDeviceQuery): { count: string; rows: string } {
  const dir = query.order === 'asc' ? 'ASC' : 'DESC';
  const total = query.q ? ', COUNT(*) OVER () AS total' : '';
  return {
    count: `SELECT COUNT(*) AS n ${deviceSource(query, false)} ${deviceWhere(query, false)}`,
    rows: `SELECT d.id${total} ${deviceSource(query, true)} ${deviceWhere(query, true)}
     ORDER BY ${DEVICE_SORTS[query.sort]} ${dir}, d.id ${dir}
     LIMIT @limit OFFSET @offset`,
  };
}

/** The shown columns of a page's devices, by id (a JSON array). */
export const DEVICE_PAGE_SQL = `SELECT d.id, d.name, d.user_id, u.username, d.vault_id,
    d.client_version, d.created_at, d.revoked_at, a.last_seen
  ${DEVICES_FROM} WHERE d.id IN (SELECT value FROM json_each(@ids))`;

export function listDevicesForAdmin(
  db: Sqlite,
  query: AdminDeviceQuery,
): { rows: AdminDeviceRow[]; total: number } {
  ensureFold(db);
  return pageByKeys<string, AdminDeviceRow>(
    db,
    deviceListSql(query),
    DEVICE_PAGE_SQL,
    deviceParams(query),
    query,
  );
}

export const VAULT_SORTS = {
  vault: 'v.vault_id',
  user: 'u.username_key',
  ops: 'v.op_count',
  last_activity: 'v.last_activity',
  created: 'v.created_at',
} as const;
export type VaultSort = keyof typeof VAULT_SORTS;

export interface AdminVaultQuery {
  /** A substring of the vault id or the owner's username. */
  readonly q: string;
  readonly user: string;
  readonly sort: VaultSort;
  readonly order: 'asc' | 'desc';
  readonly page: number;
  readonly perPage: number;
}

export interface AdminVaultRow {
  /** The vaults projection's key of the (user, vault) scope; never shown. */
  readonly id: number;
  readonly user_id: string;
  readonly username: string;
  readonly vault_id: string;
  readonly op_count: number;
  readonly head_seq: number;
  readonly created_at: string;
  readonly last_activity: string;
  readonly devices: number;
  readonly blob_bytes: number;
}

// Per-row counts are point lookups: devices_vault (vault_id, user_id), blob_refs' primary key.
const VAULT_COLUMNS = `v.id, v.user_id, u.username, v.vault_id, v.op_count, v.head_seq, v.created_at,
  v.last_activity,
  (SELECT COUNT(*) FROM devices d WHERE d.vault_id = v.vault_id AND d.user_id = v.user_id
    AND d.revoked_at IS NULL) AS devices,
  (SELECT COALESCE(SUM(r.size), 0) FROM blob_refs r
    WHERE r.user_id = v.user_id AND r.vault_id = v.vault_id) AS blob_bytes`;

/**
 * The SQL of the vaults list, exposed for the EXPLAIN QUERY PLAN test: `count`, and `rows`,
 * the page's vault keys in order (the devices list's two steps, for the same reasons).
 */
export function vaultListSql(query: AdminVaultQuery): { count: string; rows: string } {
  const parts: string[] = [];
  if (query.q) {
    parts.push(`(${folded('v.vault_id')} OR v.user_id IN (${OWNER_MATCHES}))`);
  }
  if (query.user) parts.push('v.user_id = @user');
  const byUser = query.sort === 'user';
  const whereOf = (terms: string[]) => (terms.length ? `WHERE ${terms.join(' AND ')}` : '');
  // Driven from users by username, the owner's filter must name u as well to be a lookup.
  const where = whereOf(query.user && byUser ? [...parts, 'u.id = @user'] : parts);
  const dir = query.order === 'asc' ? 'ASC' : 'DESC';
  // Every vault has its owner (a UserDeleted drops both): only the owner's sort needs the
  // name. CROSS JOIN keeps users outside, walking usernames in order.
  const from = byUser ? 'FROM users u CROSS JOIN vaults v ON v.user_id = u.id' : 'FROM vaults v';
  const total = query.q ? ', COUNT(*) OVER () AS total' : '';
  return {
    count: `SELECT COUNT(*) AS n FROM vaults v ${whereOf(parts)}`,
    rows: `SELECT v.id${total} ${from} ${where}
     ORDER BY ${VAULT_SORTS[query.sort]} ${dir}, v.id ${dir}
     LIMIT @limit OFFSET @offset`,
  };
}

/** The shown columns of a page's vaults, by key (a JSON array). */
export const VAULT_PAGE_SQL = `SELECT ${VAULT_COLUMNS}
  FROM vaults v JOIN users u ON u.id = v.user_id WHERE v.id IN (SELECT value FROM json_each(@ids))`;

/**
 * A list's page in two steps: the keys in order (with the total when a search counted it in
 * the same pass), then the rows of those keys, put back in that order.
 */
function pageByKeys<K, R extends { id: K }>(
  db: Sqlite,
  sql: { count: string; rows: string },
  pageSql: string,
  params: Record<string, string | number>,
  query: { page: number; perPage: number },
): { rows: R[]; total: number } {
  const keys = prepared(db, sql.rows).all({
    ...params,
    limit: query.perPage,
    offset: (query.page - 1) * query.perPage,
  }) as { id: K; total?: number }[];
  // Past the last page a search has no row to carry its total: count then.
  const total = keys[0]?.total ?? (prepared(db, sql.count).get(params) as { n: number }).n;
  if (keys.length === 0) return { rows: [], total };
  const found = prepared(db, pageSql).all({ ids: JSON.stringify(keys.map((k) => k.id)) }) as R[];
  const byKey = new Map(found.map((row) => [row.id, row]));
  return { rows: keys.map((k) => byKey.get(k.id)).filter((r): r is R => r !== undefined), total };
}

export function listVaultsForAdmin(
  db: Sqlite,
  query: AdminVaultQuery,
): { rows: AdminVaultRow[]; total: number } {
  ensureFold(db);
  const params: Record<string, string> = {};
  if (query.q) params.q = query.q.toLocaleLowerCase();
  if (query.user) params.user = query.user;
  return pageByKeys<number, AdminVaultRow>(db, vaultListSql(query), VAULT_PAGE_SQL, params, query);
}

export interface AdminVaultDetail {
  readonly vault: AdminVaultRow;
  readonly blobs: number;
  readonly devices: readonly AdminDeviceRow[];
}

export const VAULT_DETAIL_SQL = {
  vault: `SELECT ${VAULT_COLUMNS} FROM vaults v JOIN users u ON u.id = v.user_id
    WHERE v.user_id = ? AND v.vault_id = ?`,
  blobs: 'SELECT COUNT(*) AS n FROM blob_refs WHERE user_id = ? AND vault_id = ?',
  devices: `SELECT d.id, d.name, d.user_id, u.username, d.vault_id, d.client_version,
      d.created_at, d.revoked_at, a.last_seen
    ${DEVICES_FROM} WHERE d.vault_id = ? AND d.user_id = ? ORDER BY d.created_at, d.id`,
} as const;

/** One vault's figures and devices; never its operations' payloads. */
export function vaultDetailForAdmin(
  db: Sqlite,
  userId: string,
  vaultId: string,
): AdminVaultDetail | undefined {
  const vault = prepared(db, VAULT_DETAIL_SQL.vault).get(userId, vaultId) as
    AdminVaultRow | undefined;
  if (!vault) return undefined;
  const blobs = (prepared(db, VAULT_DETAIL_SQL.blobs).get(userId, vaultId) as { n: number }).n;
  const devices = prepared(db, VAULT_DETAIL_SQL.devices).all(vaultId, userId) as AdminDeviceRow[];
  return { vault, blobs, devices };
}
