import {
  CATALOGUE,
  type EventType,
  type RecordedEvent,
  type SeqRange,
  type Sqlite,
} from '../log/index.js';
import type { Projection } from './projection.js';
import { prepared } from './query.js';

/**
 * The audit page's index over the log: one row per event about who did what, so that every
 * filter of /admin/audit is an index range read newest first, never a json_extract over
 * every event. The sync traffic (each pushed op and push answer) is left out: it is most of
 * the log, it would double the writes of every push, and the page reaches it through the
 * vault streams' own (stream, seq) index instead (audit-queries.ts).
 */
export interface AuditIndexTable {
  seq: number;
  /** The stored type, also for an erased event (EventRedacted keeps it). */
  type: string;
  user_id: string | null;
  device_id: string | null;
  severity: number;
}

export const SEVERITY = { info: 0, warning: 1, error: 2 } as const;
export type Severity = keyof typeof SEVERITY;

/** Events the index leaves to the vault streams. */
export const SYNC_TRAFFIC: readonly string[] = ['OperationPushed', 'PushAnswered'];

/**
 * CONTRACT.md §11: error = refused sign-ins and authentications; warning = rate limits,
 * refusals that look like probing, revocations, blocks, deletions; everything else info.
 * Decided from the type (and for two types a field), so an erased event keeps its level.
 */
export function severityOf(type: string, data: unknown): number {
  switch (type) {
    case 'LoginFailed':
    case 'AdminLoginFailed':
      return SEVERITY.error;
    case 'SecurityRefusalsCounted':
      return (data as { kind?: string } | undefined)?.kind === 'rate_limit'
        ? SEVERITY.warning
        : SEVERITY.error;
    case 'PasswordResetRefused':
    case 'DeviceRevoked':
    case 'DeviceDeleted':
    case 'UserBlocked':
    case 'UserDeleted':
      return SEVERITY.warning;
    default:
      return SEVERITY.info;
  }
}

const idAfter = (stream: string, prefix: string) =>
  stream.startsWith(prefix) ? stream.slice(prefix.length) : null;
const field = (data: unknown, name: string): string | null => {
  const value = (data as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : null;
};

/**
 * The user and device an event is about: its stream's, else the ids its data names. An
 * erased event has only its stream left, which is what a replay sees too.
 */
export function subjectsOf(stream: string, data: unknown) {
  return {
    userId: idAfter(stream, 'user/') ?? field(data, 'userId'),
    deviceId: idAfter(stream, 'device/') ?? field(data, 'deviceId'),
  };
}

const DDL = `
CREATE TABLE IF NOT EXISTS audit_index (
  seq INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  user_id TEXT,
  device_id TEXT,
  severity INTEGER NOT NULL
) STRICT;
-- One per filter, each ending in seq: an equality on the first column then reads newest
-- first with no sort, and the page's keyset bound (seq < before) is a range on the same index.
CREATE INDEX IF NOT EXISTS audit_index_type ON audit_index (type, seq);
CREATE INDEX IF NOT EXISTS audit_index_user ON audit_index (user_id, seq) WHERE user_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_index_device ON audit_index (device_id, seq)
  WHERE device_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_index_severity ON audit_index (severity, seq);
`;

const upsert = (db: Sqlite) =>
  prepared(
    db,
    `INSERT INTO audit_index (seq, type, user_id, device_id, severity) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (seq) DO UPDATE SET type = excluded.type, user_id = excluded.user_id,
       device_id = excluded.device_id, severity = excluded.severity`,
  );

/**
 * Rows of events a deletion erased, brought to what a replay computes from the erased rows
 * (their stream only): the ids their data named no longer lead to them.
 */
function forgetErased(db: Sqlite, ranges: readonly SeqRange[]) {
  const rows = prepared(
    db,
    `SELECT e.seq, e.stream FROM audit_index a JOIN events e ON e.seq = a.seq
     WHERE a.seq BETWEEN ? AND ?`,
  );
  const update = prepared(db, 'UPDATE audit_index SET user_id = ?, device_id = ? WHERE seq = ?');
  for (const [from, to] of ranges) {
    for (const row of rows.all(from, to) as { seq: number; stream: string }[]) {
      const { userId, deviceId } = subjectsOf(row.stream, undefined);
      update.run(userId, deviceId, row.seq);
    }
  }
}

// Rows per INSERT of a bulk rebuild, of 5 parameters each.
const BULK_ROWS = 64;
const ROW_WIDTH = 5;
const INSERT_BULK = `INSERT INTO audit_index (seq, type, user_id, device_id, severity) VALUES ${Array.from(
  { length: BULK_ROWS },
  () => '(?, ?, ?, ?, ?)',
).join(', ')}`;

/**
 * A bulk rebuild's rows not yet written (Projection.bulk), as insert parameters: one row
 * per event of the log but the sync traffic, a million single-row upserts for a million
 * registrations. A rebuild from seq 0 applies each seq once, so a plain INSERT adds what the
 * upsert would; UserDeleted writes them before it reads the rows back (forgetErased).
 */
const bulkRows = new WeakMap<Sqlite, unknown[]>();

function writeBulkRows(db: Sqlite, pending: unknown[]): void {
  const chunk = BULK_ROWS * ROW_WIDTH;
  let at = 0;
  for (; at + chunk <= pending.length; at += chunk) {
    prepared(db, INSERT_BULK).run(pending.slice(at, at + chunk));
  }
  for (; at < pending.length; at += ROW_WIDTH) {
    upsert(db).run(pending.slice(at, at + ROW_WIDTH));
  }
  pending.length = 0;
}

export const auditIndexProjection: Projection = {
  name: 'audit_index',
  version: 1,
  tables: ['audit_index'],
  // apply and forgetErased look rows up by seq only.
  deferredIndexes: [
    'audit_index_type',
    'audit_index_user',
    'audit_index_device',
    'audit_index_severity',
  ],
  // Every type but the sync traffic, whichever sections add later; erased ones as they read.
  handles: [
    ...(CATALOGUE.types.filter((t) => !SYNC_TRAFFIC.includes(t)) as EventType[]),
    'EventRedacted',
  ],
  bulk: {
    begin(db) {
      bulkRows.set(db, []);
    },
    end(db) {
      const pending = bulkRows.get(db);
      bulkRows.delete(db);
      if (pending) writeBulkRows(db, pending);
    },
  },
  init(db) {
    db.exec(DDL);
  },
  apply(db, event: RecordedEvent) {
    const erased = event.type === 'EventRedacted';
    const type = erased ? event.data.type : event.type;
    if (SYNC_TRAFFIC.includes(type)) return;
    const data = erased ? undefined : event.data;
    const { userId, deviceId } = subjectsOf(event.stream, data);
    const pending = bulkRows.get(db);
    if (pending) {
      pending.push(event.seq, type, userId, deviceId, severityOf(type, data));
      if (pending.length >= BULK_ROWS * ROW_WIDTH || event.type === 'UserDeleted') {
        writeBulkRows(db, pending);
      }
    } else {
      upsert(db).run(event.seq, type, userId, deviceId, severityOf(type, data));
    }
    if (event.type === 'UserDeleted') forgetErased(db, event.data.redacted);
  },
};
