import type { Sqlite } from './database.js';

/**
 * The log's storage format, stored in PRAGMA user_version and checked by verify, backup and
 * restore. 1: one `events` table with text hashes and each event's stream name, meta and
 * time in full. 2: the tables below, read through the `events` view.
 */
export const LOG_FORMAT_VERSION = 2;

/**
 * Format 2 stores what repeats once: a stream's name in log_streams, an event type's name
 * in log_types, the meta and time of
 * one append (every event of a push shares them) in log_commits, digests as 32 bytes. The
 * chain is defined over the logical row the `events` view shows (hash.ts), so storage can
 * change without touching a single hash. seq is an INTEGER PRIMARY KEY without
 * AUTOINCREMENT: duplicates are decided before insert and nothing is ever deleted, so the
 * sequence stays gap-free but for the one jump each restore records (SeqGap below). The
 * hashes come before `data`, which may overflow into further pages, so reading them never
 * walks the payload.
 */
const LOG_TABLES_DDL = `
CREATE TABLE IF NOT EXISTS log_streams (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
) STRICT;
CREATE TABLE IF NOT EXISTS log_types (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
) STRICT;
CREATE TABLE IF NOT EXISTS log_commits (
  id INTEGER PRIMARY KEY,
  meta TEXT NOT NULL,
  at TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS log_events (
  seq INTEGER PRIMARY KEY,
  stream INTEGER NOT NULL,
  version INTEGER NOT NULL,
  type INTEGER NOT NULL,
  schema_version INTEGER NOT NULL,
  commit_id INTEGER NOT NULL,
  data_hash BLOB NOT NULL,
  hash BLOB NOT NULL,
  data TEXT NOT NULL
) STRICT;`;

/** A stream's events in order (a stream's versions grow with seq): sync pulls, audit, streams. */
const LOG_STREAM_INDEX_DDL =
  'CREATE INDEX IF NOT EXISTS log_events_stream ON log_events (stream, seq);';

/** A hex digest as its bytes; text that is not hex (an edited row) is kept as its bytes. */
const blobOf = (hex: string) => `coalesce(unhex(${hex}), CAST(${hex} AS BLOB))`;

/**
 * The log as the chain defines it, one row per event with its stream name, meta, time and
 * hex digests: what verify, replay, audit and an operator's `sqlite3` read. LEFT JOINs, so a
 * query that does not ask for the stream or meta skips their lookups, and an event whose
 * stream or commit row went missing still shows (with NULLs that break its hash) instead of
 * vanishing. Writes through the view land in the tables (the triggers); the event store
 * writes the tables directly.
 */
const EVENTS_VIEW_DDL = `
CREATE VIEW IF NOT EXISTS events AS
SELECT e.seq AS seq, s.name AS stream, e.version AS version, t.name AS type,
  e.schema_version AS schema_version, e.data AS data, lower(hex(e.data_hash)) AS data_hash,
  c.meta AS meta, c.at AS at, lower(hex(e.hash)) AS hash
FROM log_events e
LEFT JOIN log_streams s ON s.id = e.stream
LEFT JOIN log_types t ON t.id = e.type
LEFT JOIN log_commits c ON c.id = e.commit_id;
CREATE TRIGGER IF NOT EXISTS events_insert INSTEAD OF INSERT ON events BEGIN
  INSERT INTO log_streams (name) VALUES (NEW.stream) ON CONFLICT (name) DO NOTHING;
  INSERT INTO log_types (name) VALUES (NEW.type) ON CONFLICT (name) DO NOTHING;
  INSERT INTO log_commits (meta, at) VALUES (NEW.meta, NEW.at);
  INSERT INTO log_events (seq, stream, version, type, schema_version, commit_id, data_hash, hash, data)
  VALUES (NEW.seq, (SELECT id FROM log_streams WHERE name = NEW.stream), NEW.version,
    (SELECT id FROM log_types WHERE name = NEW.type), NEW.schema_version, last_insert_rowid(), ${blobOf('NEW.data_hash')}, ${blobOf('NEW.hash')},
    NEW.data);
END;
CREATE TRIGGER IF NOT EXISTS events_update INSTEAD OF UPDATE ON events BEGIN
  INSERT INTO log_streams (name) VALUES (NEW.stream) ON CONFLICT (name) DO NOTHING;
  INSERT INTO log_types (name) VALUES (NEW.type) ON CONFLICT (name) DO NOTHING;
  INSERT INTO log_commits (meta, at) VALUES (NEW.meta, NEW.at);
  UPDATE log_events SET seq = NEW.seq,
    stream = (SELECT id FROM log_streams WHERE name = NEW.stream), version = NEW.version,
    type = (SELECT id FROM log_types WHERE name = NEW.type), schema_version = NEW.schema_version, commit_id = last_insert_rowid(),
    data_hash = ${blobOf('NEW.data_hash')}, hash = ${blobOf('NEW.hash')}, data = NEW.data
  WHERE seq = OLD.seq;
END;
CREATE TRIGGER IF NOT EXISTS events_delete INSTEAD OF DELETE ON events BEGIN
  DELETE FROM log_events WHERE seq = OLD.seq;
END;`;

const LOG_INFO_DDL = `
CREATE TABLE IF NOT EXISTS log_info (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;`;

/** The log's format cannot be read by this server: written by a newer one. */
export class LogFormatError extends Error {
  constructor(
    readonly found: number,
    where: string,
  ) {
    super(
      `${where}: log format ${found} was written by a newer server (this one reads formats 1 to ${LOG_FORMAT_VERSION}) — run the newer server, or restore a backup taken by this version`,
    );
    this.name = 'LogFormatError';
  }
}

const objectType = (db: Sqlite, name: string) =>
  (db.prepare('SELECT type FROM main.sqlite_master WHERE name = ?').pluck().get(name) as
    string | undefined) ?? undefined;

/**
 * Brings a database's log to the current format: creates it in a new file, converts a
 * format 1 log in one transaction (every row keeps its seq, fields and hashes, so the
 * chain verifies as before), and refuses a newer format. Returns the format found.
 */
export function migrateLog(db: Sqlite, newEpochId: () => string): number {
  const found = readSchemaVersion(db);
  if (found > LOG_FORMAT_VERSION) throw new LogFormatError(found, db.name);
  db.transaction(() => {
    if (objectType(db, 'events') === 'table') convertFormat1(db);
    db.exec(`${LOG_TABLES_DDL}\n${LOG_STREAM_INDEX_DDL}\n${EVENTS_VIEW_DDL}\n${LOG_INFO_DDL}`);
    if (found < LOG_FORMAT_VERSION) db.pragma(`user_version = ${LOG_FORMAT_VERSION}`);
    db.prepare('INSERT OR IGNORE INTO log_info (key, value) VALUES (?, ?)').run(
      'epoch',
      newEpochId(),
    );
  }).immediate();
  return found;
}

/**
 * Format 1 to 2: the same rows, their repeated names and metas stored once. A digest that
 * is not hex (a damaged or edited row) is kept as its bytes, so verify still reports it.
 */
function convertFormat1(db: Sqlite): void {
  db.exec(`
    ALTER TABLE events RENAME TO events_format1;
    DROP INDEX IF EXISTS events_stream_seq;
    ${LOG_TABLES_DDL}
    INSERT INTO log_streams (name) SELECT stream FROM events_format1 GROUP BY stream ORDER BY min(seq);
    INSERT INTO log_types (name) SELECT type FROM events_format1 GROUP BY type ORDER BY min(seq);
    CREATE INDEX log_commits_convert ON log_commits (meta, at);
    INSERT INTO log_commits (meta, at)
      SELECT meta, at FROM events_format1 GROUP BY meta, at ORDER BY min(seq);
    INSERT INTO log_events (seq, stream, version, type, schema_version, commit_id, data_hash, hash, data)
      SELECT e.seq, s.id, e.version, t.id, e.schema_version, c.id, ${blobOf('e.data_hash')},
        ${blobOf('e.hash')}, e.data
      FROM events_format1 e
      JOIN log_streams s ON s.name = e.stream
      JOIN log_types t ON t.name = e.type
      JOIN log_commits c ON c.meta = e.meta AND c.at = e.at
      ORDER BY e.seq;
    DROP INDEX log_commits_convert;
    DROP TABLE events_format1;`);
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
