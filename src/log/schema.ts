import type { Sqlite } from './database.js';

/** Bumped when the log table itself changes shape; stored in PRAGMA user_version. */
export const LOG_SCHEMA_VERSION = 1;

// seq is an INTEGER PRIMARY KEY without AUTOINCREMENT: duplicates are decided before
// insert and nothing is ever deleted, so the sequence stays gap-free.
const DDL = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  version INTEGER NOT NULL,
  type TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  data TEXT NOT NULL,
  data_hash TEXT NOT NULL,
  meta TEXT NOT NULL,
  at TEXT NOT NULL,
  hash TEXT NOT NULL,
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
