import type { EventRow, Sqlite } from '../log/index.js';
import { SYNC_TRAFFIC } from './audit-index.js';
import { prepared } from './query.js';

/** What the audit page asks for; every field narrows. */
export interface AuditPageQuery {
  readonly type?: string;
  readonly userId?: string;
  readonly deviceId?: string;
  readonly severity?: number;
  /** Inclusive lower bound on `at` (ISO-8601). */
  readonly since?: string;
  /** Exclusive upper bound on `at`. */
  readonly until?: string;
  /** Keyset: only events with a smaller seq (the last one the previous page showed). */
  readonly before?: number;
  readonly limit: number;
}

export interface AuditPage {
  readonly rows: readonly EventRow[];
  /** The `before` of the next (older) page; undefined when nothing older matches. */
  readonly older: number | undefined;
}

/**
 * How far back one page of sync traffic looks when its filter is not an index's exact key
 * (a device's ops among its vault's, one type among both): a page then shows what this
 * stretch held and links on to the next, so no request reads more than this many events.
 */
export const SYNC_SCAN_SEQS = 5_000;

/**
 * The smallest seq whose `at` is at or after `iso`, head + 1 when none: a binary search
 * over the primary key. Events are stamped in commit order, so `at` grows with seq (a clock
 * stepping back could misplace the edge of a range by the events of that step).
 */
export function firstSeqAt(db: Sqlite, iso: string, head: number): number {
  const atOf = prepared(db, 'SELECT at FROM events WHERE seq = ?').pluck();
  let lo = 1;
  let hi = head + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const at = atOf.get(mid) as string | undefined;
    if (at !== undefined && at >= iso) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const headOf = (db: Sqlite) =>
  (prepared(db, 'SELECT max(seq) FROM events').pluck().get() as number | null) ?? 0;

/** The seq range [from, to) the time bounds and the keyset leave. */
function seqRange(db: Sqlite, q: AuditPageQuery) {
  const head = headOf(db);
  const from = q.since ? firstSeqAt(db, q.since, head) : 1;
  const untilSeq = q.until ? firstSeqAt(db, q.until, head) : head + 1;
  const to = Math.min(untilSeq, q.before ?? head + 1);
  return { from, to };
}

// Every clause is a constant chosen by which filters are set; values are bound parameters.
function indexedPage(db: Sqlite, q: AuditPageQuery, from: number, to: number): AuditPage {
  const where = ['a.seq >= ?', 'a.seq < ?'];
  const params: (string | number)[] = [from, to];
  if (q.type) {
    where.push('a.type = ?');
    params.push(q.type);
  }
  if (q.userId) {
    where.push('a.user_id = ?');
    params.push(q.userId);
  }
  if (q.deviceId) {
    where.push('a.device_id = ?');
    params.push(q.deviceId);
  }
  if (q.severity !== undefined) {
    where.push('a.severity = ?');
    params.push(q.severity);
  }
  const rows = prepared(
    db,
    `SELECT e.* FROM audit_index a JOIN events e ON e.seq = a.seq
     WHERE ${where.join(' AND ')} ORDER BY a.seq DESC LIMIT ? + 0`,
  ).all(...params, q.limit + 1) as EventRow[];
  return pageOf(rows, q.limit);
}

const pageOf = (rows: EventRow[], limit: number): AuditPage =>
  rows.length > limit
    ? { rows: rows.slice(0, limit), older: rows[limit - 1]!.seq }
    : { rows, older: undefined };

/** The vault streams a user or a device pushes to, from the projections. */
function syncStreamsOf(db: Sqlite, q: AuditPageQuery): string[] | undefined {
  if (q.deviceId) {
    const device = prepared(db, 'SELECT user_id, vault_id FROM devices WHERE id = ?').get(
      q.deviceId,
    ) as { user_id: string; vault_id: string } | undefined;
    if (!device || (q.userId && device.user_id !== q.userId)) return [];
    return [`vault/${device.user_id}/${device.vault_id}`];
  }
  if (q.userId) {
    const vaults = prepared(db, 'SELECT vault_id FROM vaults WHERE user_id = ?')
      .pluck()
      .all(q.userId) as string[];
    return vaults.map((v) => `vault/${q.userId}/${v}`);
  }
  return undefined;
}

/**
 * Pushed ops and push answers, which the audit index leaves out: read from the vault
 * streams' (stream, seq) index when a user or device names them, else by seq; a residual
 * filter (the type, the pushing device) looks at most SYNC_SCAN_SEQS events back.
 */
function syncPage(db: Sqlite, q: AuditPageQuery, from: number, to: number): AuditPage {
  if (q.severity !== undefined && q.severity > 0) return { rows: [], older: undefined };
  const floor = Math.max(from, to - SYNC_SCAN_SEQS);
  const residual = ['type = ?'];
  const params: (string | number)[] = [q.type!];
  if (q.deviceId) {
    residual.push("json_extract(meta, '$.actor') = ?");
    params.push(`device:${q.deviceId}`);
  }
  const streams = syncStreamsOf(db, q);
  let rows: EventRow[];
  if (streams === undefined) {
    rows = prepared(
      db,
      `SELECT * FROM events WHERE seq >= ? AND seq < ? AND ${residual.join(' AND ')}
       ORDER BY seq DESC LIMIT ? + 0`,
    ).all(floor, to, ...params, q.limit + 1) as EventRow[];
  } else {
    const stmt = prepared(
      db,
      `SELECT * FROM events WHERE stream = ? AND seq >= ? AND seq < ? AND ${residual.join(' AND ')}
       ORDER BY seq DESC LIMIT ? + 0`,
    );
    // A newest-first merge of each stream's newest rows: a user has a handful of vaults.
    rows = streams
      .flatMap((s) => stmt.all(s, floor, to, ...params, q.limit + 1) as EventRow[])
      .sort((a, b) => b.seq - a.seq)
      .slice(0, q.limit + 1);
  }
  const page = pageOf(rows, q.limit);
  if (page.older !== undefined || floor <= from) return page;
  // Nothing more in this stretch, but older events remain to be looked at.
  return { rows: page.rows, older: floor };
}

/** One page of the audit, newest first. */
export function auditPage(db: Sqlite, q: AuditPageQuery): AuditPage {
  const { from, to } = seqRange(db, q);
  if (from >= to) return { rows: [], older: undefined };
  return q.type && SYNC_TRAFFIC.includes(q.type)
    ? syncPage(db, q, from, to)
    : indexedPage(db, q, from, to);
}
