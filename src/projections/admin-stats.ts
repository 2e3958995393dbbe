import type { Sqlite } from '../log/index.js';
import { prepared } from './query.js';

// The admin dashboard's figures (CONTRACT.md §10 /admin/api/stats). Every one is a point
// read of a counter (counters.ts), an index-only count, or a range of an index: none scans
// events or vault_ops, so a view costs the same at a million ops as at ten.

export interface AdminStats {
  readonly users: number;
  readonly activeUsers: number;
  readonly blockedUsers: number;
  readonly unconfirmedUsers: number;
  readonly activeDevices: number;
  readonly revokedDevices: number;
  readonly vaults: number;
  /** Ops stored in the vaults now (a deleted user's are gone). */
  readonly operations: number;
  /** Ops pushed in the 24 hours before `now`, counted from the log (erased ones too). */
  readonly operations24h: number;
  readonly blobs: number;
  readonly blobBytes: number;
  readonly blobReferences: number;
  /** Stored contents no vault references. */
  readonly orphanBlobs: number;
  /** Sessions past their end that a cleanup has not removed yet. */
  readonly expiredSessions: number;
  readonly expiredEmailTokens: number;
  /** The log's events other than sync traffic (pushed ops and their idempotency answers). */
  readonly auditEvents: number;
  /** The latest push any vault saw; '' before the first. */
  readonly lastSyncActivity: string;
  /** The latest cleanup that removed anything (one that found nothing leaves no event). */
  readonly lastCleanupAt: string;
}

const num = (v: unknown) => (typeof v === 'number' ? v : 0);

/** The statements adminStats runs, by figure: the query-plan test reads them. */
export const STATS_SQL = {
  users: 'SELECT blocked, confirmed, COUNT(*) AS n FROM users GROUP BY blocked, confirmed',
  activeDevices: 'SELECT COUNT(*) AS n FROM devices WHERE revoked_at IS NULL',
  revokedDevices: 'SELECT COUNT(*) AS n FROM devices WHERE revoked_at IS NOT NULL',
  vaults: 'SELECT vaults, ops, sync_events FROM vault_totals WHERE id = 1',
  lastActivity: 'SELECT MAX(last_activity) AS last FROM vaults',
  recentMinutes: 'SELECT COALESCE(SUM(ops), 0) AS n FROM ops_by_minute WHERE minute > ?',
  boundaryMinute: 'SELECT first_seq, last_seq FROM ops_by_minute WHERE minute = ?',
  boundaryOps: `SELECT COUNT(*) AS n FROM events
    WHERE seq BETWEEN ? AND ? AND at >= ? AND type = 'OperationPushed'`,
  blobs: 'SELECT blobs, bytes, refs, referenced FROM blob_totals WHERE id = 1',
  expiredSessions: 'SELECT COUNT(*) AS n FROM sessions WHERE expires_at <= ?',
  expiredEmailTokens: 'SELECT COUNT(*) AS n FROM email_tokens WHERE expires_at <= ?',
  head: 'SELECT MAX(seq) AS n FROM events',
  lastCleanup: `SELECT seq, at FROM events WHERE stream = 'server' AND type = 'CleanupRan'
    ORDER BY seq DESC LIMIT 1`,
} as const;

const one = (db: Sqlite, sql: string, ...params: unknown[]) =>
  (prepared(db, sql).get(...params) ?? {}) as Record<string, unknown>;

/**
 * Ops pushed at or after `since`: whole minutes from their counters, and the events of the
 * boundary minute itself (one minute of the log, by seq) checked one by one.
 */
function opsSince(db: Sqlite, since: string): number {
  const minute = since.slice(0, 16);
  const whole = num(one(db, STATS_SQL.recentMinutes, minute).n);
  const edge = one(db, STATS_SQL.boundaryMinute, minute);
  if (typeof edge.first_seq !== 'number') return whole;
  return whole + num(one(db, STATS_SQL.boundaryOps, edge.first_seq, edge.last_seq, since).n);
}

/** The last cleanup that removed anything: its seq and time, read from the server stream. */
export function findLastCleanup(db: Sqlite): { seq: number; at: string } | undefined {
  const row = one(db, STATS_SQL.lastCleanup);
  return typeof row.seq === 'number' ? { seq: row.seq, at: String(row.at) } : undefined;
}

export function adminStats(db: Sqlite, now: Date): AdminStats {
  const byStatus = prepared(db, STATS_SQL.users).all() as {
    blocked: number;
    confirmed: number;
    n: number;
  }[];
  const usersWhere = (keep: (r: { blocked: number; confirmed: number }) => boolean) =>
    byStatus.filter(keep).reduce((sum, r) => sum + r.n, 0);
  const vaults = one(db, STATS_SQL.vaults);
  const blobs = one(db, STATS_SQL.blobs);
  const nowIso = now.toISOString();
  const last = one(db, STATS_SQL.lastActivity).last;
  return {
    users: usersWhere(() => true),
    activeUsers: usersWhere((r) => r.blocked === 0 && r.confirmed === 1),
    blockedUsers: usersWhere((r) => r.blocked === 1),
    unconfirmedUsers: usersWhere((r) => r.confirmed === 0),
    activeDevices: num(one(db, STATS_SQL.activeDevices).n),
    revokedDevices: num(one(db, STATS_SQL.revokedDevices).n),
    vaults: num(vaults.vaults),
    operations: num(vaults.ops),
    operations24h: opsSince(db, new Date(now.getTime() - 86_400_000).toISOString()),
    blobs: num(blobs.blobs),
    blobBytes: num(blobs.bytes),
    blobReferences: num(blobs.refs),
    orphanBlobs: num(blobs.blobs) - num(blobs.referenced),
    expiredSessions: num(one(db, STATS_SQL.expiredSessions, nowIso).n),
    expiredEmailTokens: num(one(db, STATS_SQL.expiredEmailTokens, nowIso).n),
    auditEvents: num(one(db, STATS_SQL.head).n) - num(vaults.sync_events),
    lastSyncActivity: typeof last === 'string' ? last : '',
    lastCleanupAt: findLastCleanup(db)?.at ?? '',
  };
}
