import type { Sqlite } from './database.js';

/** Bumped when the log table itself changes shape; stored in PRAGMA user_version. */
export const LOG_SCHEMA_VERSION = 1;

// seq is an INTEGER PRIMARY KEY without AUTOINCREMENT: duplicates are decided before
// insert and nothing is ever deleted, so the sequence stays gap-free, but for the one
// jump each restore records (SeqGap below).
const EVENT_COLUMNS_DDL = `
  seq INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  version INTEGER NOT NULL,
  type TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  data TEXT NOT NULL,
  data_hash TEXT NOT NULL,
  meta TEXT NOT NULL,
  at TEXT NOT NULL,
  hash TEXT NOT NULL`;

/**
 * The events table of a replay's scratch database: the same columns without the secondary
 * indexes (projections look events up by seq only, and the scratch never appends).
 */
export const SCRATCH_EVENTS_DDL = `CREATE TABLE events (${EVENT_COLUMNS_DDL}\n) STRICT`;

const DDL = `
CREATE TABLE IF NOT EXISTS events (${EVENT_COLUMNS_DDL},
  UNIQUE (stream, version)
) STRICT;
CREATE INDEX IF NOT EXISTS events_stream_seq ON events (stream, seq);
CREATE TABLE IF NOT EXISTS log_info (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`;

export function migrateLog(db: Sqlite, newEpochId: () => string): void {
  db.exec(DDL);
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current < LOG_SCHEMA_VERSION) db.pragma(`user_version = ${LOG_SCHEMA_VERSION}`);
  db.prepare('INSERT OR IGNORE INTO log_info (key, value) VALUES (?, ?)').run(
    'epoch',
    newEpochId(),
  );
}

export function readSchemaVersion(db: Sqlite): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function readEpoch(db: Sqlite): string {
  const row = db.prepare('SELECT value FROM log_info WHERE key = ?').get('epoch') as
    { value: string } | undefined;
  return row?.value ?? '';
}

/**
 * A jump in seq left by a restore: the restored log ended at `after`, and the next event
 * appended after it got `resumeAfter + 1`. Devices may have seen seqs of the lost server
 * inside (after, resumeAfter]; no event ever gets one, so such a cursor is recognisably
 * stale (CONTRACT `cursor_ahead`). Every restore adds one; verify accepts exactly these.
 */
export interface SeqGap {
  readonly after: number;
  readonly resumeAfter: number;
}

export const SEQ_GAPS_KEY = 'seq_gaps';

const isGap = (g: unknown): g is SeqGap =>
  typeof g === 'object' &&
  g !== null &&
  Number.isSafeInteger((g as SeqGap).after) &&
  Number.isSafeInteger((g as SeqGap).resumeAfter) &&
  (g as SeqGap).resumeAfter > (g as SeqGap).after;

/** Reads the recorded gaps, oldest first ([] for a log never restored); prepared once. */
export function seqGapReader(db: Sqlite): () => SeqGap[] {
  const stmt = db.prepare('SELECT value FROM log_info WHERE key = ?').pluck();
  return () => {
    const value = stmt.get(SEQ_GAPS_KEY) as string | undefined;
    if (value === undefined) return [];
    const parsed = JSON.parse(value) as unknown;
    if (!Array.isArray(parsed) || !parsed.every(isGap)) {
      throw new Error(`log_info ${SEQ_GAPS_KEY} is malformed: ${value}`);
    }
    return parsed;
  };
}

export const readSeqGaps = (db: Sqlite): SeqGap[] => seqGapReader(db)();

/** Whether a cursor lies inside a recorded gap: a position no event of this log ever had. */
export const inSeqGap = (gaps: readonly SeqGap[], seq: number) =>
  gaps.some((g) => seq > g.after && seq <= g.resumeAfter);

/** A restore's bookkeeping: a new epoch and one more gap, in one transaction. */
export function recordRestore(db: Sqlite, epoch: string, gap: SeqGap): void {
  db.transaction(() => {
    const gaps = readSeqGaps(db);
    const last = gaps.at(-1);
    // Restored again before anything was appended: one jump from the same head, the wider.
    if (last?.after === gap.after) {
      gaps[gaps.length - 1] = {
        after: gap.after,
        resumeAfter: Math.max(last.resumeAfter, gap.resumeAfter),
      };
    } else {
      gaps.push(gap);
    }
    const put = db.prepare('INSERT OR REPLACE INTO log_info (key, value) VALUES (?, ?)');
    put.run('epoch', epoch);
    put.run(SEQ_GAPS_KEY, JSON.stringify(gaps));
  }).immediate();
}
