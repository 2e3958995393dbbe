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

/** Only the filters given become conditions: `@x = '' OR col = @x` would defeat the indexes. */
function deviceWhere(query: AdminDeviceQuery): string {
  const parts: string[] = [];
  if (query.q) {
    parts.push(`(instr(verstak_fold(d.name), @q) > 0 OR instr(verstak_fold(d.vault_id), @q) > 0
      OR instr(verstak_fold(d.client_version), @q) > 0 OR instr(verstak_fold(u.username), @q) > 0)`);
  }
  if (query.user) parts.push('d.user_id = @user');
  if (query.vault) parts.push('d.vault_id = @vault');
  if (query.version) parts.push('d.client_version = @version');
  if (query.status === 'active') parts.push('d.revoked_at IS NULL');
  // On a TEXT column `>= ''` is IS NOT NULL, written as a range so devices_revoked serves it.
  if (query.status === 'revoked') parts.push("d.revoked_at >= ''");
  return parts.length ? `WHERE ${parts.join(' AND ')}` : '';
}

const deviceParams = (query: AdminDeviceQuery) => {
  const params: Record<string, string | number> = {};
  if (query.q) params.q = query.q.toLocaleLowerCase();
  if (query.user) params.user = query.user;
  if (query.vault) params.vault = query.vault;
  if (query.version) params.version = query.version;
  return params;
};

/** The SQL of the devices list, exposed for the EXPLAIN QUERY PLAN test. */
export function deviceListSql(query: AdminDeviceQuery): { count: string; rows: string } {
  const where = deviceWhere(query);
  const dir = query.order === 'asc' ? 'ASC' : 'DESC';
  return {
    count: `SELECT COUNT(*) AS n ${DEVICES_FROM} ${where}`,
    rows: `SELECT d.name, d.user_id, u.username, d.vault_id, d.client_version, d.created_at,
       d.revoked_at, a.last_seen
     ${DEVICES_FROM} ${where}
     ORDER BY ${DEVICE_SORTS[query.sort]} ${dir}, d.id ${dir}
     LIMIT @limit OFFSET @offset`,
  };
}

export function listDevicesForAdmin(
  db: Sqlite,
  query: AdminDeviceQuery,
): { rows: AdminDeviceRow[]; total: number } {
  ensureFold(db);
  const sql = deviceListSql(query);
  const params = deviceParams(query);
  const total = (prepared(db, sql.count).get(params) as { n: number }).n;
  const rows = prepared(db, sql.rows).all({
    ...params,
    limit: query.perPage,
    offset: (query.page - 1) * query.perPage,
  }) as AdminDeviceRow[];
  return { rows, total };
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
const VAULT_COLUMNS = `v.user_id, u.username, v.vault_id, v.op_count, v.head_seq, v.created_at,
  v.last_activity,
  (SELECT COUNT(*) FROM devices d WHERE d.vault_id = v.vault_id AND d.user_id = v.user_id
    AND d.revoked_at IS NULL) AS devices,
  (SELECT COALESCE(SUM(r.size), 0) FROM blob_refs r
    WHERE r.user_id = v.user_id AND r.vault_id = v.vault_id) AS blob_bytes`;

export function vaultListSql(query: AdminVaultQuery): { count: string; rows: string } {
  const parts: string[] = [];
  if (query.q) {
    parts.push(
      '(instr(verstak_fold(v.vault_id), @q) > 0 OR instr(verstak_fold(u.username), @q) > 0)',
    );
  }
  if (query.user) parts.push('v.user_id = @user');
  const where = parts.length ? `WHERE ${parts.join(' AND ')}` : '';
  const dir = query.order === 'asc' ? 'ASC' : 'DESC';
  const from = 'FROM vaults v JOIN users u ON u.id = v.user_id';
  return {
    count: `SELECT COUNT(*) AS n ${from} ${where}`,
    rows: `SELECT ${VAULT_COLUMNS} ${from} ${where}
     ORDER BY ${VAULT_SORTS[query.sort]} ${dir}, v.id ${dir}
     LIMIT @limit OFFSET @offset`,
  };
}

export function listVaultsForAdmin(
  db: Sqlite,
  query: AdminVaultQuery,
): { rows: AdminVaultRow[]; total: number } {
  ensureFold(db);
  const sql = vaultListSql(query);
  const params: Record<string, string> = {};
  if (query.q) params.q = query.q.toLocaleLowerCase();
  if (query.user) params.user = query.user;
  const total = (prepared(db, sql.count).get(params) as { n: number }).n;
  const rows = prepared(db, sql.rows).all({
    ...params,
    limit: query.perPage,
    offset: (query.page - 1) * query.perPage,
  }) as AdminVaultRow[];
  return { rows, total };
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
  devices: `SELECT d.name, d.user_id, u.username, d.vault_id, d.client_version, d.created_at,
      d.revoked_at, a.last_seen
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
