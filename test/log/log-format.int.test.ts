import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CATALOGUE,
  createEventStore,
  LOG_FORMAT_VERSION,
  LogFormatError,
  migrateLog,
  openDatabase,
  readSchemaVersion,
  verifyLog,
  type EventRow,
  type Sqlite,
} from '../../src/log/index.js';
import { checkDatabaseAtStartup, StartupCheckError } from '../../src/log/startup-check.js';
import { allRows, AT, blocked, META, openLog, registered } from '../helpers/log.js';

// The format 1 table, as servers before format 2 created it.
const FORMAT_1_DDL = `
CREATE TABLE events (
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
CREATE INDEX events_stream_seq ON events (stream, seq);
CREATE TABLE log_info (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
PRAGMA user_version = 1;`;

let dirs: string[] = [];
let dbs: Sqlite[] = [];
afterEach(() => {
  for (const db of dbs) if (db.open) db.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dbs = [];
  dirs = [];
});

const tempFile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vss-format-'));
  dirs.push(dir);
  return join(dir, 'server.db');
};

/** Rows of a real log over a few streams and appends, as the view shows them. */
function sampleRows(): EventRow[] {
  const { db, store } = openLog();
  dbs.push(db);
  for (let i = 0; i < 30; i++) {
    const user = `u${i % 4}`;
    store.append(
      [{ stream: `user/${user}`, events: i < 4 ? [registered(user)] : [blocked(user)] }],
      { ...META, requestId: `r${i % 7}` },
      new Date(AT.getTime() + i * 1000),
    );
  }
  store.append(
    [
      { stream: 'user/u9', events: [registered('u9')] },
      { stream: 'user/u8', events: [registered('u8')] },
    ],
    META,
    AT,
  );
  return allRows(db);
}

function format1Database(file: string, rows: readonly EventRow[]): void {
  const db = openDatabase(file);
  db.exec(FORMAT_1_DDL);
  const insert = db.prepare(
    `INSERT INTO events (seq, stream, version, type, schema_version, data, data_hash, meta, at, hash)
     VALUES (@seq, @stream, @version, @type, @schema_version, @data, @data_hash, @meta, @at, @hash)`,
  );
  for (const row of rows) insert.run(row);
  db.prepare("INSERT INTO log_info (key, value) VALUES ('epoch', 'old-epoch')").run();
  db.close();
}

describe('the log format', () => {
  it('is recorded in a new database and stores each stream, type and meta once', () => {
    const { db, store } = openLog();
    dbs.push(db);
    expect(readSchemaVersion(db)).toBe(LOG_FORMAT_VERSION);
    const events = Array.from({ length: 50 }, (_, i) =>
      i === 0 ? registered('u1') : blocked('u1'),
    );
    store.append([{ stream: 'user/u1', events }], META, AT);
    const count = (table: string) =>
      db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    expect([count('log_events'), count('log_streams'), count('log_commits')]).toEqual([50, 1, 1]);
    expect(count('log_types')).toBe(2);
    const stored = db.prepare('SELECT length(hash), length(data_hash) FROM log_events').raw().get();
    expect(stored).toEqual([32, 32]);
    expect(verifyLog(db)).toMatchObject({ format: LOG_FORMAT_VERSION, events: 50, problems: [] });
  });

  it('converts a format 1 log row for row: same fields, same hashes, the chain goes on', () => {
    const rows = sampleRows();
    const file = tempFile();
    format1Database(file, rows);
    const db = openDatabase(file);
    dbs.push(db);
    expect(migrateLog(db, () => 'new-epoch')).toBe(1);
    expect(readSchemaVersion(db)).toBe(LOG_FORMAT_VERSION);
    expect(allRows(db)).toEqual(rows);
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE name LIKE 'events%' ORDER BY name")
      .pluck()
      .all();
    expect(tables).toEqual(['events', 'events_delete', 'events_insert', 'events_update']);
    // The epoch survives: a conversion is not a new log.
    expect(db.prepare("SELECT value FROM log_info WHERE key = 'epoch'").pluck().get()).toBe(
      'old-epoch',
    );
    const store = createEventStore(db, CATALOGUE);
    expect(store.streamVersion('user/u0')).toBe(rows.filter((r) => r.stream === 'user/u0').length);
    store.append([{ stream: 'user/u0', events: [blocked('u0')] }], META, AT);
    const result = verifyLog(db);
    expect(result.problems).toEqual([]);
    expect(result.events).toBe(rows.length + 1);
    // A second open finds format 2 and changes nothing.
    expect(migrateLog(db, () => 'other')).toBe(LOG_FORMAT_VERSION);
    expect(allRows(db).slice(0, rows.length)).toEqual(rows);
  });

  it('keeps a damaged format 1 row damaged: verify still names it after the conversion', () => {
    const rows = sampleRows().map((r) =>
      r.seq === 7 ? { ...r, hash: 'not hex at all' } : r.seq === 9 ? { ...r, data: '{}' } : r,
    );
    const file = tempFile();
    format1Database(file, rows);
    const db = openDatabase(file);
    dbs.push(db);
    migrateLog(db, () => 'new-epoch');
    const problems = verifyLog(db).problems.map((p) => `${p.seq}: ${p.problem}`);
    expect(problems).toContain('7: hash chain broken');
    expect(problems).toContain('9: data does not match its data_hash');
  });

  it('refuses a log written in a newer format: migrate, verify and the start-up check', () => {
    const file = tempFile();
    const db = openDatabase(file);
    dbs.push(db);
    migrateLog(db, () => 'epoch');
    db.pragma(`user_version = ${LOG_FORMAT_VERSION + 1}`);
    expect(() => migrateLog(db, () => 'epoch')).toThrow(LogFormatError);
    expect(() => verifyLog(db)).toThrow(/log format 3 was written by a newer server/);
    db.close();
    expect(() => checkDatabaseAtStartup(file, join(file, '..'))).toThrow(StartupCheckError);
    expect(() => checkDatabaseAtStartup(file, join(file, '..'))).toThrow(
      /server\.db: log format 3 was written by a newer server/,
    );
  });

  it('shows an event whose stream row went missing, with a hash that no longer verifies', () => {
    const { db, store } = openLog();
    dbs.push(db);
    store.append([{ stream: 'user/a', events: [registered('a')] }], META, AT);
    store.append([{ stream: 'user/b', events: [registered('b')] }], META, AT);
    db.prepare("DELETE FROM log_streams WHERE name = 'user/a'").run();
    expect(allRows(db).map((r) => r.stream)).toEqual([null, 'user/b']);
    expect(verifyLog(db).problems).toContainEqual({ seq: 1, problem: 'hash chain broken' });
  });
});
