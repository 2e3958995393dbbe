import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { CATALOGUE, type Sqlite } from '../../src/log/index.js';
import { PROJECTIONS } from '../../src/projections/index.js';
import {
  checkAgainstLive,
  rebuildInto,
  swapIntoLive,
  type LiveLog,
} from '../../src/projections/rebuild.js';
import { openLiveLog, seedUsers } from './live-log.js';

// A replay leaves the deferred indexes of its large tables to the swap, which builds them on
// the staged tables in the live database; a table that is not staged after all gets them
// built in the scratch before the refill. Either way the live schema must come out as the
// projections create it.

let dir: string;
let live: LiveLog;
const opened: Sqlite[] = [];

function openLive(): LiveLog {
  const log = openLiveLog(join(dir, 'server.db'));
  opened.push(log.db);
  return log;
}

const schemaObjects = (db: Sqlite, schema = 'main') =>
  db
    .prepare(
      `SELECT type, name, tbl_name, sql FROM ${schema}.sqlite_master
       WHERE type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name`,
    )
    .all();

const indexNames = (db: Sqlite, table: string) =>
  db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name")
    .pluck()
    .all(table) as string[];

const USER_IDS = Array.from({ length: 40 }, (_, i) => `u${i}`);
const USER_INDEXES = PROJECTIONS.find((p) => p.name === 'users')!.deferredIndexes!;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'verstak-staged-index-'));
  mkdirSync(join(dir, 'tmp'));
  live = openLive();
});

afterEach(() => {
  for (const db of opened.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

const build = (leaveIndexesFrom: number) =>
  rebuildInto(join(dir, 'tmp', 'scratch.db'), live.db, {
    projections: PROJECTIONS,
    catalogue: CATALOGUE,
    leaveIndexesFrom,
  });

const checkedClean = () =>
  checkAgainstLive(
    rebuildInto(join(dir, 'tmp', 'check.db'), live.db, {
      projections: PROJECTIONS,
      catalogue: CATALOGUE,
    }),
    live.db,
  ).diffs;

it('builds a staged table’s deferred indexes in the live database, one transaction each, under their own names', () => {
  seedUsers(live, USER_IDS, (i) => i % 2 === 0);
  live.db.exec("UPDATE users SET locale = 'xx' WHERE id = 'u1'");
  const before = schemaObjects(live.db);

  const scratch = build(10);
  const left = scratch.unbuiltIndexes.filter((i) => i.table === 'users').map((i) => i.name);
  expect(left.sort()).toEqual([...USER_INDEXES].sort());
  // Not in the scratch: only the primary key's own index is.
  for (const name of USER_INDEXES) expect(indexNames(scratch.db, 'users')).not.toContain(name);
  const unbuilt = scratch.unbuiltIndexes;
  scratch.close();

  const steps: string[] = [];
  const report = swapIntoLive(scratch.file, live, 10, (s) => steps.push(s), unbuilt);
  expect(report.staged).toContain('users');
  for (const name of USER_INDEXES) {
    expect(steps).toContain(`building ${name} on the copied users`);
  }
  expect(schemaObjects(live.db)).toEqual(before);
  expect(live.db.pragma('integrity_check', { simple: true })).toBe('ok');
  // The unique indexes are real ones: a duplicate address is refused.
  expect(() => live.db.exec("UPDATE users SET email = 'u0@example.com' WHERE id = 'u3'")).toThrow(
    /UNIQUE/,
  );
  expect(checkedClean()).toEqual([]);
  expect(live.db.prepare("SELECT locale FROM users WHERE id = 'u1'").pluck().get()).toBe('en');
});

it('builds them in the scratch when the table is not staged after all, and refills the live table', () => {
  seedUsers(live, USER_IDS, (i) => i % 2 === 0);
  live.db.exec("UPDATE users SET locale = 'xx' WHERE id = 'u1'");
  const before = schemaObjects(live.db);

  const scratch = build(10);
  const unbuilt = scratch.unbuiltIndexes;
  expect(unbuilt.length).toBeGreaterThan(0);
  scratch.close();

  const steps: string[] = [];
  // Nothing reaches the staging threshold: every table is refilled in the swap.
  const report = swapIntoLive(
    scratch.file,
    live,
    Number.MAX_SAFE_INTEGER,
    (s) => steps.push(s),
    unbuilt,
  );
  expect(report.staged).toEqual([]);
  for (const name of USER_INDEXES) expect(steps).toContain(`building ${name} in the scratch`);
  expect(schemaObjects(live.db)).toEqual(before);
  expect(live.db.pragma('integrity_check', { simple: true })).toBe('ok');
  expect(checkedClean()).toEqual([]);
  expect(live.db.prepare("SELECT locale FROM users WHERE id = 'u1'").pluck().get()).toBe('en');
});
