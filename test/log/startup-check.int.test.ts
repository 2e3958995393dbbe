import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  chainHash,
  openDatabase,
  recordRestore,
  redactEvents,
  sha256Hex,
  toRanges,
  verifyLog,
  type DomainEvent,
  type EventRow,
  type Sqlite,
} from '../../src/log/index.js';
import {
  checkChainTail,
  checkDatabaseAtStartup,
  StartupCheckError,
} from '../../src/log/startup-check.js';
import { AT, blocked, META, openLog, registered } from '../helpers/log.js';

let opened: Sqlite[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const db of opened) if (db.open) db.close();
  opened = [];
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A log of `n` events: u0…u(n-1) registered, one per stream. */
function logOf(n: number) {
  const log = openLog();
  opened.push(log.db);
  for (let i = 0; i < n; i += 1) {
    log.store.append([{ stream: `user/u${i}`, events: [registered(`u${i}`)] }], META, AT);
  }
  return log;
}

const rowAt = (db: Sqlite, seq: number) =>
  db.prepare('SELECT * FROM events WHERE seq = ?').get(seq) as EventRow;

/** Rewrites the data of `from`..head and recomputes every digest and hash after it. */
function rechain(db: Sqlite, from: number, previousHash: string) {
  const head = db.prepare('SELECT max(seq) FROM events').pluck().get() as number;
  let previous = previousHash;
  for (let seq = from; seq <= head; seq += 1) {
    const row = rowAt(db, seq);
    const data = JSON.stringify({ ...(JSON.parse(row.data) as object), forged: true });
    const dataHash = sha256Hex(data);
    const hash = chainHash(previous, {
      seq,
      stream: row.stream,
      version: row.version,
      type: row.type,
      schemaVersion: row.schema_version,
      dataHash,
      meta: row.meta,
      at: row.at,
    });
    db.prepare('UPDATE events SET data = ?, data_hash = ?, hash = ? WHERE seq = ?').run(
      data,
      dataHash,
      hash,
      seq,
    );
    previous = hash;
  }
}

describe('checkChainTail', () => {
  it('passes an intact log and an empty one, and checks at most the tail', () => {
    expect(checkChainTail(logOf(0).db)).toEqual({ head: 0, checked: 0 });
    expect(checkChainTail(logOf(30).db, 10)).toEqual({ head: 30, checked: 10 });
    expect(checkChainTail(logOf(30).db, 1_000)).toEqual({ head: 30, checked: 30 });
  });

  it('names the newest event whose data was edited', () => {
    const { db } = logOf(30);
    db.prepare("UPDATE events SET data = json_set(data, '$.x', 1) WHERE seq = 30").run();
    expect(checkChainTail(db, 10).problem).toBe('seq 30: data does not match its data_hash');
  });

  it('finds a tail re-chained from a forged predecessor hash', () => {
    const { db } = logOf(30);
    rechain(db, 25, sha256Hex('not the hash of seq 24'));
    expect(checkChainTail(db, 10).problem).toBe('seq 25: hash chain broken');
    // The window starts from the stored hash before it: seq 21 onward, intact up to 24.
    expect(checkChainTail(db, 10).checked).toBe(4);
  });

  it('leaves damage older than the tail to verify', () => {
    const { db } = logOf(30);
    db.prepare("UPDATE events SET data = json_set(data, '$.x', 1) WHERE seq = 5").run();
    expect(checkChainTail(db, 10).problem).toBeUndefined();
    expect(verifyLog(db).problems[0]).toEqual({
      seq: 5,
      problem: 'data does not match its data_hash',
    });
  });

  it('finds a gap inside the tail and at its edge', () => {
    const inside = logOf(30).db;
    inside.prepare('DELETE FROM events WHERE seq = 27').run();
    expect(checkChainTail(inside, 10).problem).toBe('seq 27: missing (sequence gap)');
    const edge = logOf(30).db;
    edge.prepare('DELETE FROM events WHERE seq = 20').run();
    expect(checkChainTail(edge, 10).problem).toBe('seq 20: missing (sequence gap)');
  });

  it("accepts a restore's recorded seq jump, and nothing inside it", () => {
    const log = logOf(5);
    recordRestore(log.db, 'epoch-restored', { after: 5, resumeAfter: 50 });
    log.store.append([{ stream: 'user/u9', events: [registered('u9')] }], META, AT);
    expect(checkChainTail(log.db)).toEqual({ head: 51, checked: 6 });
    expect(checkChainTail(log.db, 1)).toEqual({ head: 51, checked: 1 });
    log.db.prepare('UPDATE events SET seq = 30 WHERE seq = 51').run();
    expect(checkChainTail(log.db).problem).toBe('seq 30: inside the gap a restore recorded');
  });

  it('accepts data erased by a UserDeleted event that lists it, and no other erasure', () => {
    const log = logOf(5);
    log.store.append([{ stream: 'user/u1', events: [blocked('u1')] }], META, AT);
    const ranges = toRanges([2, 6]);
    const deleted: DomainEvent = {
      type: 'UserDeleted',
      data: { userId: 'u1', redacted: ranges.map(([a, b]) => [a, b]), blobs: [] },
    };
    const event = log.store.append([{ stream: 'user/u1', events: [deleted] }], META, AT)[0]!;
    redactEvents(log.db, ranges, event.seq);
    expect(checkChainTail(log.db).problem).toBeUndefined();
    // A marker on seq 4, which the deletion did not list, is an unvouched erasure.
    log.db
      .prepare('UPDATE events SET data = ? WHERE seq = 4')
      .run(JSON.stringify({ redacted: true, by: event.seq }));
    expect(checkChainTail(log.db).problem).toBe(
      `seq 4: redacted without UserDeleted ${event.seq} naming it`,
    );
  });
});

describe('checkDatabaseAtStartup', () => {
  const dataDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'verstak-startup-'));
    dirs.push(dir);
    return dir;
  };

  it('reports a missing database as a first start', () => {
    const dir = dataDir();
    expect(checkDatabaseAtStartup(join(dir, 'server.db'), dir)).toEqual({
      existed: false,
      head: 0,
      checked: 0,
    });
  });

  /** A log of `n` events written to `<dir>/server.db`, as the server leaves it. */
  const onDisk = (n: number) => {
    const dir = dataDir();
    const file = join(dir, 'server.db');
    logOf(n).db.prepare('VACUUM INTO ?').run(file);
    return { dir, file };
  };

  it('passes a healthy database and reports its head', () => {
    const { dir, file } = onDisk(3);
    expect(checkDatabaseAtStartup(file, dir)).toEqual({ existed: true, head: 3, checked: 3 });
  });

  it('throws an error that names the file, the event and what to do', () => {
    const { dir, file } = onDisk(3);
    const db = openDatabase(file);
    db.prepare("UPDATE events SET data = json_set(data, '$.x', 1) WHERE seq = 3").run();
    db.close();
    const attempt = () => checkDatabaseAtStartup(file, dir);
    expect(attempt).toThrow(StartupCheckError);
    expect(attempt).toThrow(
      `${file}: the log's newest events do not verify (seq 3: data does not match its data_hash)`,
    );
    expect(attempt).toThrow(`verstak-sync-server verify --data ${dir}`);
  });

  it('refuses a file that is not a database', () => {
    const dir = dataDir();
    const file = join(dir, 'server.db');
    writeFileSync(file, 'this is not SQLite, only text long enough '.repeat(40));
    expect(() => checkDatabaseAtStartup(file, dir)).toThrow(`${file}: database corrupt`);
  });
});
