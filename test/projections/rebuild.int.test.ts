import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test as propTest, fc } from '@fast-check/vitest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CATALOGUE,
  createEventStore,
  inWriteTransaction,
  migrateLog,
  openDatabase,
  type DomainEvent,
  type Sqlite,
} from '../../src/log/index.js';
import { compareProjections } from '../../src/projections/compare.js';
import { createProjector, PROJECTIONS } from '../../src/projections/index.js';
import {
  checkAgainstLive,
  rebuildInto,
  replayProjections,
  swapIntoLive,
  type LiveLog,
  type Scratch,
} from '../../src/projections/rebuild.js';
import { registeredUser, seedUsers } from './live-log.js';

const OPTIONS = { projections: PROJECTIONS, catalogue: CATALOGUE };

let dir: string;
let live: LiveLog;
const scratches: Scratch[] = [];
const others: Sqlite[] = [];

function openLive(file: string): LiveLog {
  const db = openDatabase(file);
  migrateLog(db, () => 'test-epoch');
  const store = createEventStore(db, CATALOGUE);
  return { db, store, projector: createProjector(db, store, PROJECTIONS) };
}

/** Appends and projects in one transaction, as the command handler does. */
function record(target: LiveLog, stream: string, events: DomainEvent[], at = new Date()) {
  inWriteTransaction(target.db, () =>
    target.projector.apply(target.store.append([{ stream, events }], { actor: 'test' }, at)),
  );
}

function build(): Scratch {
  const scratch = rebuildInto(join(dir, `scratch-${scratches.length}.db`), live.db, OPTIONS);
  scratches.push(scratch);
  return scratch;
}

/** A second connection to the live file: what a running server process looks like. */
function serverConnection(): LiveLog {
  const other = openLive(join(dir, 'server.db'));
  others.push(other.db);
  return other;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'verstak-rebuild-'));
  live = openLive(join(dir, 'server.db'));
});

afterEach(() => {
  for (const s of scratches.splice(0)) s.close();
  for (const db of others.splice(0)) db.close();
  live.db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rebuildInto', () => {
  it('builds in a scratch file the same rows the live projections hold', () => {
    seedUsers(live, ['u1', 'u2', 'u3']);
    record(live, 'user/u2', [{ type: 'UserBlocked', data: { userId: 'u2' } }]);
    const scratch = build();
    expect(scratch.head).toBe(4);
    expect(scratch.db.prepare('SELECT id, blocked FROM users ORDER BY id').all()).toEqual([
      { id: 'u1', blocked: 0 },
      { id: 'u2', blocked: 1 },
      { id: 'u3', blocked: 0 },
    ]);
    expect(compareProjections(scratch.db, live.db, ['users'])).toEqual([]);
  });

  it('refuses to overwrite an existing file', () => {
    const file = join(dir, 'server.db');
    expect(() => rebuildInto(file, live.db, OPTIONS)).toThrow(/already exists/);
  });
});

describe('checkAgainstLive', () => {
  it('names the table and the row deleted from the live projection', () => {
    seedUsers(live, ['u1', 'u2']);
    live.db.prepare('DELETE FROM users WHERE id = ?').run('u1');
    const { diffs } = checkAgainstLive(build(), live.db);
    expect(diffs).toHaveLength(1);
    expect(diffs[0]).toMatchObject({ table: 'users', onlyRebuilt: 1, onlyLive: 0 });
    expect(diffs[0]!.examples).toEqual([
      { side: 'rebuilt', row: expect.objectContaining({ id: 'u1', username: 'name-u1' }) },
    ]);
  });

  it('shows a changed row on both sides', () => {
    seedUsers(live, ['u1', 'u2']);
    live.db.prepare('UPDATE users SET blocked = 1 WHERE id = ?').run('u2');
    const [diff] = checkAgainstLive(build(), live.db).diffs;
    expect(diff).toMatchObject({ onlyRebuilt: 1, onlyLive: 1 });
    expect(diff!.examples.map((e) => [e.side, e.row.id, e.row.blocked])).toEqual(
      expect.arrayContaining([
        ['rebuilt', 'u2', 0],
        ['live', 'u2', 1],
      ]),
    );
  });

  it('reports a row the log never produced', () => {
    seedUsers(live, ['u1']);
    live.db
      .prepare(
        `INSERT INTO users (id, username, username_key, email, password_hash, confirmed, blocked, locale, created_at)
         VALUES ('ghost', 'ghost', 'ghost', 'ghost@example.com', 'x', 1, 0, 'en', '2020-01-01T00:00:00.000Z')`,
      )
      .run();
    const [diff] = checkAgainstLive(build(), live.db).diffs;
    expect(diff).toMatchObject({ table: 'users', onlyRebuilt: 0, onlyLive: 1 });
    expect(diff!.examples[0]!.row.id).toBe('ghost');
  });

  it('catches up with events a server appended after the build, in one snapshot', () => {
    seedUsers(live, ['u1']);
    const scratch = build();
    const server = serverConnection();
    seedUsers(server, ['u2', 'u3']);
    record(server, 'user/u3', [{ type: 'UserBlocked', data: { userId: 'u3' } }]);
    const result = checkAgainstLive(scratch, live.db);
    expect(result).toEqual({ head: 4, diffs: [] });
    expect(scratch.db.prepare('SELECT count(*) FROM users').pluck().get()).toBe(3);
  });
});

describe('swapIntoLive', () => {
  it('repairs the live tables and applies the events appended meanwhile', () => {
    seedUsers(live, ['u1', 'u2']);
    const scratch = build();
    scratch.close();
    live.db.prepare('DELETE FROM users').run();
    seedUsers(serverConnection(), ['u3']);

    expect(swapIntoLive(scratch.file, live)).toMatchObject({ head: 3, caughtUp: 1 });

    expect(live.db.prepare('SELECT id FROM users ORDER BY id').pluck().all()).toEqual([
      'u1',
      'u2',
      'u3',
    ]);
    expect(
      live.db.prepare('SELECT name, version, position FROM projection_checkpoints').all(),
    ).toEqual(PROJECTIONS.map((p) => ({ name: p.name, version: p.version, position: 3 })));
    expect(checkAgainstLive(build(), live.db).diffs).toEqual([]);
    expect(live.db.prepare('PRAGMA database_list').all()).toHaveLength(1);
  });
});

describe('replayProjections', () => {
  const scratchFiles = () => readdirSync(dir).filter((f) => f.startsWith('replay-'));

  it('leaves the live tables alone in check mode and removes its scratch file', () => {
    seedUsers(live, ['u1', 'u2']);
    live.db.prepare('DELETE FROM users WHERE id = ?').run('u2');
    const report = replayProjections(live, { ...OPTIONS, scratchDir: dir, check: true });
    expect(report).toMatchObject({ events: 2, head: 2, caughtUp: 0 });
    expect(report.diffs.map((d) => d.table)).toEqual(['users']);
    expect(live.db.prepare('SELECT id FROM users').pluck().all()).toEqual(['u1']);
    expect(scratchFiles()).toEqual([]);
  });

  it('replaces the live tables without check mode, and a second replay changes nothing', () => {
    seedUsers(live, ['u1', 'u2']);
    live.db.prepare('DELETE FROM users WHERE id = ?').run('u2');
    replayProjections(live, { ...OPTIONS, scratchDir: dir, check: false });
    const once = live.db.prepare('SELECT * FROM users ORDER BY id').all();
    expect(once.map((r) => (r as { id: string }).id)).toEqual(['u1', 'u2']);
    replayProjections(live, { ...OPTIONS, scratchDir: dir, check: false });
    expect(live.db.prepare('SELECT * FROM users ORDER BY id').all()).toEqual(once);
    expect(replayProjections(live, { ...OPTIONS, scratchDir: dir, check: true }).diffs).toEqual([]);
    expect(scratchFiles()).toEqual([]);
  });
});

describe('compareProjections', () => {
  const table = (db: Sqlite, ddl: string, values: string[]) => {
    db.exec(ddl);
    const insert = db.prepare('INSERT INTO t (k) VALUES (?)');
    for (const v of values) insert.run(v);
  };

  it("walks both tables in SQLite's byte order, so equal tables with any text compare equal", () => {
    const other = openDatabase(join(dir, 'other.db'));
    others.push(other);
    // UTF-16 order and UTF-8 order disagree between astral characters and U+E000..U+FFFF.
    const values = ['\u{1F600}', '\uFFFD', 'a', 'A', '', 'é', '\u{10000}', '\uE000', 'z'];
    table(live.db, 'CREATE TABLE t (k TEXT PRIMARY KEY)', values);
    table(other, 'CREATE TABLE t (k TEXT PRIMARY KEY)', [...values].reverse());
    expect(compareProjections(other, live.db, ['t'])).toEqual([]);
    other.prepare('DELETE FROM t WHERE k = ?').run('\uFFFD');
    expect(compareProjections(other, live.db, ['t'])).toEqual([
      {
        table: 't',
        onlyRebuilt: 0,
        onlyLive: 1,
        examples: [{ side: 'live', row: { k: '\uFFFD' } }],
      },
    ]);
  });

  it('reports tables whose columns differ instead of comparing rows', () => {
    const other = openDatabase(join(dir, 'other.db'));
    others.push(other);
    table(live.db, 'CREATE TABLE t (k TEXT PRIMARY KEY, extra TEXT)', ['a']);
    table(other, 'CREATE TABLE t (k TEXT PRIMARY KEY)', ['a']);
    const [diff] = compareProjections(other, live.db, ['t', 'missing']);
    expect(diff!.shape).toMatch(/columns differ/);
  });
});

const userEvent = fc.oneof(
  fc.record({ kind: fc.constant('register' as const), user: fc.integer({ min: 0, max: 5 }) }),
  fc.record({
    kind: fc.constantFrom('block' as const, 'unblock' as const),
    user: fc.integer({ min: 0, max: 5 }),
  }),
);

describe('rebuild property', () => {
  propTest.prop([fc.array(userEvent, { maxLength: 30 })], { numRuns: 25 })(
    'rebuilding from the log equals applying the same events one by one',
    (steps) => {
      // Each run gets its own log; only the scratch needs a file.
      const log = openLive(':memory:');
      others.push(log.db);
      const registeredIds = new Set<string>();
      let t = Date.parse('2024-01-01T00:00:00.000Z');
      for (const step of steps) {
        const id = `u${step.user}`;
        const at = new Date((t += 1000));
        if (step.kind === 'register') {
          if (registeredIds.has(id)) continue;
          registeredIds.add(id);
          record(log, `user/${id}`, [registeredUser(id)], at);
        } else if (registeredIds.has(id)) {
          const type = step.kind === 'block' ? 'UserBlocked' : 'UserUnblocked';
          record(log, `user/${id}`, [{ type, data: { userId: id } }], at);
        }
      }
      const scratch = rebuildInto(join(dir, `prop-${scratches.length}.db`), log.db, OPTIONS);
      scratches.push(scratch);
      expect(compareProjections(scratch.db, log.db, ['users'])).toEqual([]);
    },
  );
});
