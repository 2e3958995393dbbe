import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { CATALOGUE, inWriteTransaction, type Sqlite } from '../../src/log/index.js';
import { PROJECTIONS } from '../../src/projections/index.js';
import {
  checkAgainstLive,
  rebuildInto,
  replayProjections,
  swapIntoLive,
  type LiveLog,
} from '../../src/projections/rebuild.js';
import {
  lockTimer,
  removeReplayLeftovers,
  renameStaged,
  stageTables,
  withSchemaEdits,
} from '../../src/projections/staged-swap.js';
import { openLiveLog, seedUsers } from './live-log.js';

// Staging normally starts at 20,000 rows; 1 stages every table that can be staged.
const STAGE_ALL = 1;

let dir: string;
let live: LiveLog;
const opened: Sqlite[] = [];

function openLive(): LiveLog {
  const log = openLiveLog(join(dir, 'server.db'));
  opened.push(log.db);
  return log;
}

const ids = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Every named index and trigger, as the server's schema holds them. */
const schemaObjects = (db: Sqlite) =>
  db
    .prepare(
      `SELECT type, name, tbl_name, sql FROM sqlite_master
       WHERE type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name`,
    )
    .all();

const replayTables = (db: Sqlite) =>
  db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'replay%'")
    .pluck()
    .all();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'verstak-staged-swap-'));
  mkdirSync(join(dir, 'tmp'));
  live = openLive();
});

afterEach(() => {
  for (const db of opened.splice(0)) if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

it('renames staged tables in: the same indexes and triggers, the rows the log gives, a server connection that keeps working', () => {
  seedUsers(live, ids(120));
  // The damage a replay repairs: a changed row, a lost row, a row the log never made.
  live.db.exec("UPDATE users SET locale = 'xx' WHERE id = 'u1'");
  live.db.exec("DELETE FROM users WHERE id = 'u2'");
  live.db.exec("INSERT INTO user_device_counts (user_id, active) VALUES ('ghost', 3)");
  const before = schemaObjects(live.db);

  const server = openLive();
  const countUsers = server.db.prepare('SELECT count(*) FROM users').pluck();
  expect(countUsers.get()).toBe(119);

  const scratch = rebuildInto(join(dir, 'tmp', 'scratch.db'), live.db, {
    projections: PROJECTIONS,
    catalogue: CATALOGUE,
  });
  scratch.close();
  // Appended by the server after the build: applied by the swap to the renamed tables.
  seedUsers(server, ['late']);

  const report = swapIntoLive(scratch.file, live, STAGE_ALL);
  expect(report).toMatchObject({ head: 121, caughtUp: 1 });
  expect(report.staged).toEqual(expect.arrayContaining(['users', 'audit_index']));
  expect(report.staged).toContain('user_device_counts');
  // devices has triggers of its own: refilled in the swap, not staged.
  expect(report.staged).not.toContain('devices');

  expect(schemaObjects(live.db)).toEqual(before);
  expect(schemaObjects(server.db)).toEqual(before);
  expect(replayTables(live.db)).toEqual([]);
  expect(live.db.pragma('integrity_check', { simple: true })).toBe('ok');
  expect(
    checkAgainstLive(
      rebuildInto(join(dir, 'tmp', 'check.db'), live.db, {
        projections: PROJECTIONS,
        catalogue: CATALOGUE,
      }),
      live.db,
    ).diffs,
  ).toEqual([]);

  // The server's statement prepared before the swap reads the new table.
  expect(countUsers.get()).toBe(121);
  expect(server.db.prepare("SELECT locale FROM users WHERE id = 'u1'").pluck().get()).toBe('en');
  expect(
    server.db.prepare("SELECT 1 FROM user_device_counts WHERE user_id = 'ghost'").get(),
  ).toBeUndefined();
  // Its writes land in the new tables, the unique indexes hold there, and the devices
  // triggers move the new counts.
  seedUsers(server, ['after']);
  expect(countUsers.get()).toBe(122);
  expect(() =>
    server.db
      .prepare(
        `INSERT INTO users (id, username, username_key, email, password_hash, confirmed, blocked, locale, created_at)
         VALUES ('dup', 'dup', 'dup', 'u3@example.com', 'x', 0, 0, 'en', '2026-01-01T00:00:00Z')`,
      )
      .run(),
  ).toThrow(/UNIQUE/);
  server.db
    .prepare(
      `INSERT INTO devices (id, user_id, vault_id, name, client_version, token_hash, created_at)
       VALUES ('d1', 'u3', 'v', 'laptop', '1.0', 'h', '2026-01-01T00:00:00Z')`,
    )
    .run();
  expect(
    live.db.prepare("SELECT active FROM user_device_counts WHERE user_id = 'u3'").pluck().get(),
  ).toBe(1);
});

it('removes the tables of a replay killed before or after its swap', () => {
  seedUsers(live, ids(30));
  // What a kill leaves: a half-staged table, and a replaced one not yet emptied.
  live.db.exec(`CREATE TABLE replay_new_users AS SELECT * FROM users;
    CREATE INDEX replay_new_users_email ON replay_new_users (email);
    CREATE TABLE replay_old_audit_index AS SELECT * FROM audit_index;`);
  const rows = live.db.prepare('SELECT * FROM users ORDER BY id').all();

  const report = replayProjections(live, {
    scratchDir: join(dir, 'tmp'),
    check: false,
    catalogue: CATALOGUE,
    stageMinRows: STAGE_ALL,
  });

  expect(report.diffs).toEqual([]);
  expect(report.swap?.staged).toContain('users');
  expect(replayTables(live.db)).toEqual([]);
  expect(live.db.prepare('SELECT * FROM users ORDER BY id').all()).toEqual(rows);
  expect(live.db.pragma('integrity_check', { simple: true })).toBe('ok');
});

it('swaps twice in a row, staged both times, to the same rows', () => {
  seedUsers(live, ids(40));
  const replay = () =>
    replayProjections(live, {
      scratchDir: join(dir, 'tmp'),
      check: false,
      catalogue: CATALOGUE,
      stageMinRows: STAGE_ALL,
    });
  replay();
  const once = live.db.prepare('SELECT * FROM users ORDER BY id').all();
  const objects = schemaObjects(live.db);
  expect(replay().swap?.staged).toContain('users');
  expect(live.db.prepare('SELECT * FROM users ORDER BY id').all()).toEqual(once);
  expect(schemaObjects(live.db)).toEqual(objects);
  expect(
    replayProjections(live, { scratchDir: join(dir, 'tmp'), check: true, catalogue: CATALOGUE })
      .diffs,
  ).toEqual([]);
});

it('renames the live indexes it finds under the lock, also one added after the staging', () => {
  seedUsers(live, ids(25));
  const before = schemaObjects(live.db);
  const scratch = rebuildInto(join(dir, 'tmp', 'scratch.db'), live.db, {
    projections: PROJECTIONS,
    catalogue: CATALOGUE,
  });
  scratch.close();
  live.db.prepare('ATTACH DATABASE ? AS replay_scratch').run(scratch.file);
  const staged = stageTables(live.db, 'replay_scratch', ['users'], lockTimer(live.db), STAGE_ALL);
  live.db.exec('DETACH DATABASE replay_scratch');
  expect(staged.map((s) => s.table)).toEqual(['users']);
  // As a server started meanwhile might: an index the staging never saw.
  live.db.exec('CREATE INDEX users_extra ON users (locale)');

  withSchemaEdits(live.db, () => inWriteTransaction(live.db, () => renameStaged(live.db, staged)));

  const names = live.db
    .prepare("SELECT name, tbl_name FROM sqlite_master WHERE name LIKE '%users_extra'")
    .all();
  expect(names).toEqual([{ name: 'replay_old_users_extra', tbl_name: 'replay_old_users' }]);
  expect(live.db.pragma('integrity_check', { simple: true })).toBe('ok');
  expect(removeReplayLeftovers(live.db)).toBe(1);
  expect(schemaObjects(live.db)).toEqual(before);
  expect(replayTables(live.db)).toEqual([]);
  expect(live.db.prepare('SELECT count(*) FROM users').pluck().get()).toBe(25);
});
