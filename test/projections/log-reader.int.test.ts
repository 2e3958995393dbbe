import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CATALOGUE,
  createEventStore,
  EventDecodeError,
  migrateLog,
  openDatabase,
  redactionMarker,
  type Sqlite,
} from '../../src/log/index.js';
import { PROJECTIONS } from '../../src/projections/index.js';
import { createLogReader } from '../../src/projections/log-reader.js';
import { rebuildInto, type Scratch } from '../../src/projections/rebuild.js';
import { scratchFileIn } from '../../src/projections/scratch-files.js';
import { AT, blocked, META, openLog, pushedFileOp, registered } from '../helpers/log.js';

/** A log of several commits of several streams and types, one event erased. */
function seed(db: Sqlite) {
  const store = createEventStore(db, CATALOGUE);
  store.append([{ stream: 'user/a', events: [registered('a'), blocked('a')] }], META, AT);
  store.append(
    [
      { stream: 'user/b', events: [registered('b')] },
      { stream: 'vault/a/notes', events: [pushedFileOp(1), pushedFileOp(2), pushedFileOp(3)] },
    ],
    { actor: 'device', ip: '127.0.0.1' },
    new Date('2026-07-11T08:00:00.000Z'),
  );
  store.append([{ stream: 'user/c', events: [registered('c')] }], META, AT);
  db.prepare('UPDATE log_events SET data = ? WHERE seq = 4').run(redactionMarker(7));
  return store;
}

const readAll = (db: Sqlite, limit: number, wanted: (type: string) => boolean = () => true) => {
  const reader = createLogReader(db, CATALOGUE);
  const events = [];
  let position = 0;
  for (let round = 0; round < 100; round++) {
    const chunk = reader.read(position, limit, wanted);
    if (chunk.rows === 0) break;
    events.push(...chunk.events);
    position = chunk.lastSeq;
  }
  return events;
};

describe('the replay log reader', () => {
  it('decodes every event as the event store does, erased ones and shared commits included', () => {
    const { db } = openLog();
    const store = seed(db);
    const expected = store.readRange(0, 100);
    expect(expected.some((e) => e.type === 'EventRedacted')).toBe(true);
    for (const limit of [1, 2, 100]) expect(readAll(db, limit)).toEqual(expected);
  });

  it('leaves out the types nobody wants, and still moves past their rows', () => {
    const { db } = openLog();
    seed(db);
    const reader = createLogReader(db, CATALOGUE);
    const chunk = reader.read(0, 3, (type) => type === 'UserBlocked');
    expect(chunk.rows).toBe(3);
    expect(chunk.lastSeq).toBe(3);
    expect(chunk.events.map((e) => [e.seq, e.type])).toEqual([[2, 'UserBlocked']]);
    expect(reader.read(8, 10, () => true)).toEqual({ events: [], rows: 0, lastSeq: 8 });
  });

  it('fails on an event whose commit is gone, naming its seq, as the event store does', () => {
    const { db } = openLog();
    const store = seed(db);
    db.prepare('UPDATE log_events SET commit_id = 999 WHERE seq = 6').run();
    expect(() => store.readRange(5, 1)).toThrow(EventDecodeError);
    expect(() => readAll(db, 100)).toThrow(/event 6:/);
  });

  it('fails on data its schema refuses, naming the seq', () => {
    const { db } = openLog();
    seed(db);
    db.prepare(`UPDATE log_events SET data = '{"userId":42}' WHERE seq = 2`).run();
    expect(() => readAll(db, 100)).toThrow(/event 2:/);
  });
});

describe('the scratch copy of the log', () => {
  let dir: string;
  let live: Sqlite;
  let scratch: Scratch | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'verstak-log-reader-'));
    live = openDatabase(join(dir, 'server.db'));
    migrateLog(live, () => 'test-epoch');
  });
  afterEach(() => {
    scratch?.close();
    scratch = undefined;
    live.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds the live log table for table, ids and hashes included', () => {
    seed(live);
    // Gaps in the ids: a copy that renumbered rows would show here.
    live.prepare("INSERT INTO log_streams (id, name) VALUES (50, 'unused')").run();
    createEventStore(live, CATALOGUE).append(
      [{ stream: 'user/d', events: [registered('d')] }],
      META,
      AT,
    );
    scratch = rebuildInto(scratchFileIn(dir), live, {
      projections: PROJECTIONS,
      catalogue: CATALOGUE,
    });
    expect(scratch.head).toBe(8);
    for (const table of ['log_streams', 'log_types', 'log_commits', 'log_events']) {
      const sql = `SELECT rowid AS rowid_, * FROM ${table} ORDER BY rowid`;
      expect(scratch.db.prepare(sql).all(), table).toEqual(live.prepare(sql).all());
    }
    expect(
      scratch.db.prepare('SELECT id FROM log_streams WHERE name = ?').pluck().get('user/d'),
    ).toBe(51);
  });
});
