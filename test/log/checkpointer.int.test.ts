import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CATALOGUE,
  createEventStore,
  LOG_FORMAT_VERSION,
  migrateLog,
  openDatabase,
  startCheckpointer,
  verifyLog,
  type Checkpointer,
  type DomainEvent,
  type Sqlite,
} from '../../src/log/index.js';
import { META, registered } from '../helpers/log.js';

const FRAME_BYTES = 4096 + 24;
const CHUNKS = 6;
const COMMITS_PER_CHUNK = 20;
/** Far above what these tests write: the main connection's own checkpoint never runs. */
const NEVER = 1_000_000;

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup.reverse()) fn();
  cleanup = [];
});

function openFileLog() {
  const dir = mkdtempSync(join(tmpdir(), 'verstak-ckpt-'));
  const file = join(dir, 'server.db');
  const db = openDatabase(file);
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => db.open && db.close());
  migrateLog(db, () => 'epoch-1');
  return { dir, file, db, store: createEventStore(db, CATALOGUE) };
}

interface WalState {
  readonly log: number;
  readonly checkpointed: number;
}
/** Frames in the WAL and how many of them are in the database file; changes nothing. */
const walOf = (db: Sqlite) => db.prepare('PRAGMA wal_checkpoint(NOOP)').get() as WalState;
const walBytes = (file: string) => (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);

let users = 0;
/** One chunk of commits, each a few pages (the padding spans several overflow pages). */
function commitChunk(
  store: ReturnType<typeof createEventStore>,
  commits = COMMITS_PER_CHUNK,
  padding = 12_000,
) {
  for (let i = 0; i < commits; i++) {
    const id = `u${++users}`;
    const event = registered(id);
    const padded = {
      ...event,
      data: { ...event.data, passwordHash: 'x'.repeat(padding) },
    } as DomainEvent;
    store.append([{ stream: `user/${id}`, events: [padded] }], META, new Date());
  }
}

function start(db: Sqlite, options: Partial<Parameters<typeof startCheckpointer>[1]> = {}) {
  const errors: unknown[] = [];
  const checkpointer: Checkpointer = startCheckpointer(db, {
    thresholdFrames: 16,
    pollMs: 5,
    idleMs: 20,
    backstopFrames: NEVER,
    onError: (error) => errors.push(error),
    ...options,
  });
  cleanup.push(() => checkpointer.stop());
  return { checkpointer, errors };
}

describe('the WAL checkpoint worker', () => {
  it('checkpoints what the main connection commits, so the WAL restarts instead of growing', async () => {
    const { file, db, store } = openFileLog();
    const { checkpointer, errors } = start(db);
    const logs: number[] = [];
    for (let chunk = 0; chunk < CHUNKS; chunk++) {
      commitChunk(store);
      logs.push(walOf(db).log);
      // The worker catches up while the main connection is idle (a hang detector, not timing).
      await vi.waitFor(() => expect(walOf(db)).toMatchObject({ checkpointed: walOf(db).log }), {
        timeout: 10_000,
        interval: 5,
      });
    }
    checkpointer.stop();

    // Every chunk after the first started a fresh WAL: the worker had copied all of it.
    const chunkFrames = logs[0]!;
    expect(chunkFrames).toBeGreaterThan(COMMITS_PER_CHUNK);
    for (const log of logs) expect(log).toBeLessThanOrEqual(chunkFrames + 8);
    expect(walBytes(file)).toBeLessThanOrEqual(32 + (chunkFrames + 8) * FRAME_BYTES);
    // The main connection's checkpoint could not have run (NEVER): the worker copied them all.
    const stats = checkpointer.stats();
    expect(stats.frames).toBeGreaterThanOrEqual(logs.reduce((a, b) => a + b, 0));
    expect(stats.caughtUp).toBeGreaterThanOrEqual(CHUNKS);
    expect(errors).toEqual([]);

    expect(store.head()).toBe(CHUNKS * COMMITS_PER_CHUNK);
    expect(verifyLog(db)).toEqual({
      format: LOG_FORMAT_VERSION,
      events: CHUNKS * COMMITS_PER_CHUNK,
      problems: [],
      integrity: [],
    });
  });

  it('never makes a commit wait: with no busy timeout at all, every commit goes through', async () => {
    const { db, store } = openFileLog();
    // Any lock the worker held against a writer would now surface as SQLITE_BUSY.
    db.pragma('busy_timeout = 0');
    const { checkpointer, errors } = start(db, { thresholdFrames: 1, pollMs: 0, idleMs: 0 });
    // The worker's start-up (a thread, a connection) can outlast a few commits on a busy
    // machine: the race below only means something once it is checkpointing.
    commitChunk(store);
    const hang = { timeout: 10_000, interval: 5 };
    await vi.waitFor(() => expect(checkpointer.stats().checkpoints).toBeGreaterThan(0), hang);
    const before = checkpointer.stats().checkpoints;
    for (let chunk = 1; chunk < CHUNKS; chunk++) {
      commitChunk(store);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await vi.waitFor(() => expect(checkpointer.stats().checkpoints).toBeGreaterThan(before), hang);
    checkpointer.stop();
    expect(errors).toEqual([]);
    expect(store.head()).toBe(CHUNKS * COMMITS_PER_CHUNK);
  });

  it('is what keeps the WAL short: without it the same commits pile up in one WAL', () => {
    const { file, db, store } = openFileLog();
    db.pragma(`wal_autocheckpoint = ${NEVER}`);
    const logs: number[] = [];
    for (let chunk = 0; chunk < CHUNKS; chunk++) {
      commitChunk(store);
      logs.push(walOf(db).log);
    }
    const growth = logs.slice(1).map((log, i) => log - logs[i]!);
    for (const frames of growth) expect(frames).toBeGreaterThan(COMMITS_PER_CHUNK);
    expect(walOf(db).checkpointed).toBe(0);
    expect(walBytes(file)).toBe(32 + logs.at(-1)! * FRAME_BYTES);
  });

  it('hands the WAL back on stop, so the final checkpoint empties it', () => {
    const { file, db, store } = openFileLog();
    const { checkpointer } = start(db);
    commitChunk(store);
    // Stopped while it may be checkpointing: stop() returns only once its connection is closed.
    checkpointer.stop();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    // No waiting allowed: a worker still inside a checkpoint would make TRUNCATE report busy.
    db.pragma('busy_timeout = 0');
    expect(db.pragma('wal_checkpoint(TRUNCATE)')).toEqual([{ busy: 0, log: 0, checkpointed: 0 }]);
    expect(walBytes(file)).toBe(0);
  });

  it('reports a worker that cannot open the database and gives checkpoints back to commits', async () => {
    const { dir, file, db, store } = openFileLog();
    const { checkpointer, errors } = start(db, {
      file: join(dir, 'missing', 'server.db'),
      // Not started again within this test: what it checks is the time without a worker.
      restartMs: 600_000,
    });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(NEVER);
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 10_000, interval: 5 });
    expect(String(errors[0])).toMatch(/Cannot open database/);
    // SQLite's default again: commits checkpoint the WAL themselves, as without a worker.
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);

    const before = walOf(db).log;
    commitChunk(store, 4, 48_000);
    const perCommit = Math.ceil((walOf(db).log - before) / 4);
    // Enough commits for 2.5 WALs of 1000 frames: only SQLite's own checkpoint bounds it.
    commitChunk(store, Math.ceil(2500 / perCommit), 48_000);
    expect(walBytes(file)).toBeLessThanOrEqual(32 + (1000 + 2 * perCommit) * FRAME_BYTES);
    expect(checkpointer.stats().frames).toBe(0);
    checkpointer.stop();
    expect(verifyLog(db).problems).toEqual([]);
  });

  // Issue 12: a worker that failed (SQLITE_FULL, a missing file) was gone until a restart.
  it('starts a failed worker again after a backoff, and counts the failures', async () => {
    const { dir, file, db, store } = openFileLog();
    const path = join(dir, 'later', 'server.db');
    const { checkpointer, errors } = start(db, { file: path, restartMs: 200 });
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 10_000, interval: 5 });
    expect(checkpointer.stats().failures).toBe(1);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    // The cause goes away: the next worker opens the database and checkpoints.
    mkdirSync(join(dir, 'later'));
    symlinkSync(file, path);
    await vi.waitFor(() => expect(checkpointer.stats().started).toBe(2), { timeout: 10_000 });
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(NEVER);
    commitChunk(store, 4);
    await vi.waitFor(() => expect(checkpointer.stats().frames).toBeGreaterThan(0), {
      timeout: 10_000,
      interval: 5,
    });
    expect(checkpointer.stats().failures).toBe(1);
    checkpointer.stop();
    expect(verifyLog(db).problems).toEqual([]);
  });
});
