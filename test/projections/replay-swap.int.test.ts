import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  CATALOGUE,
  createEventStore,
  inWriteTransaction,
  migrateLog,
  openDatabase,
  type Sqlite,
} from '../../src/log/index.js';
import { createProjector, PROJECTIONS } from '../../src/projections/index.js';
import { replayProjections, type LiveLog } from '../../src/projections/rebuild.js';

let dir: string;
let db: Sqlite;

function openLive(): LiveLog {
  const store = createEventStore(db, CATALOGUE);
  return { db, store, projector: createProjector(db, store, PROJECTIONS) };
}

function register(live: LiveLog, count: number) {
  for (let i = 0; i < count; i++) {
    const userId = `u${i}`;
    inWriteTransaction(db, () =>
      live.projector.apply(
        live.store.append(
          [
            {
              stream: `user/${userId}`,
              events: [
                {
                  type: 'UserRegistered',
                  data: {
                    userId,
                    username: `Name-${i}`,
                    email: `${userId}@example.com`,
                    passwordHash: `$argon2id$fake-${i}`,
                    confirmed: i % 2 === 0,
                    locale: 'en',
                    registeredBy: 'operator',
                  },
                },
              ],
            },
          ],
          { actor: 'test' },
          new Date(Date.UTC(2026, 0, 1, 0, 0, i)),
        ),
      ),
    );
  }
}

const indexes = () =>
  db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
    )
    .pluck()
    .all() as string[];

const replay = (live: LiveLog, check: boolean) =>
  replayProjections(live, { scratchDir: join(dir, 'tmp'), check, catalogue: CATALOGUE });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'verstak-replay-swap-'));
  mkdirSync(join(dir, 'tmp'));
  db = openDatabase(join(dir, 'server.db'));
  migrateLog(db, () => 'test-epoch');
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

it('keeps every index of the live tables, the deferred ones included, and the rows the log gives', () => {
  const live = openLive();
  register(live, 50);
  const before = indexes();
  const rows = db.prepare('SELECT * FROM users ORDER BY id').all();
  const report = replay(live, false);
  expect(report.diffs).toEqual([]);
  expect(indexes()).toEqual(before);
  expect(before).toEqual(expect.arrayContaining(['users_created', 'audit_index_type']));
  expect(db.prepare('SELECT * FROM users ORDER BY id').all()).toEqual(rows);
  expect(replay(live, true).diffs).toEqual([]);
  expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
});

it('fills a live table whose columns are in another order than the code creates them', () => {
  // An older server's users table, columns in another order: CREATE TABLE IF NOT EXISTS keeps it.
  db.exec(`CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    username_skeleton TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    confirmed INTEGER NOT NULL,
    blocked INTEGER NOT NULL,
    locale TEXT NOT NULL
  ) STRICT`);
  const live = openLive();
  register(live, 20);
  const byName = () =>
    db.prepare('SELECT id, username, email, confirmed, locale, created_at FROM users').all();
  const rows = byName();
  db.exec("UPDATE users SET locale = 'xx'");
  const before = indexes();
  const report = replay(live, false);
  expect(report.diffs).toEqual([]);
  expect(indexes()).toEqual(before);
  expect(byName()).toEqual(rows);
  expect(rows).toHaveLength(20);
});
