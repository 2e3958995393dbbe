import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CATALOGUE,
  createEventStore,
  migrateLog,
  openDatabase,
  startCheckpointer,
  verifyLog,
  type Sqlite,
} from '../../src/log/index.js';
import { META, registered } from '../helpers/log.js';

/** Far above what these tests write: the main connection's own checkpoint never runs. */
const NEVER = 1_000_000;
const HANG = { timeout: 10_000, interval: 5 };

let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup.reverse()) fn();
  cleanup = [];
});

function openFileLog() {
  const dir = mkdtempSync(join(tmpdir(), 'verstak-ckpt-retire-'));
  const db = openDatabase(join(dir, 'server.db'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => db.open && db.close());
  migrateLog(db, () => 'epoch-1');
  return { db, store: createEventStore(db, CATALOGUE) };
}

const walOf = (db: Sqlite) =>
  db.prepare('PRAGMA wal_checkpoint(NOOP)').get() as { log: number; checkpointed: number };

let users = 0;
function commitSome(store: ReturnType<typeof createEventStore>, commits = 10) {
  for (let i = 0; i < commits; i++) {
    const id = `u${++users}`;
    const event = registered(id);
    store.append([{ stream: `user/${id}`, events: [event] }], META, new Date());
  }
}

function start(db: Sqlite) {
  const errors: unknown[] = [];
  const checkpointer = startCheckpointer(db, {
    thresholdFrames: 4,
    pollMs: 5,
    idleMs: 20,
    retireMs: 50,
    wakeMs: 10,
    backstopFrames: NEVER,
    onError: (error) => errors.push(error),
  });
  cleanup.push(() => checkpointer.stop());
  return { checkpointer, errors };
}

describe('the WAL checkpoint worker of an idle server', () => {
  it('ends once the WAL is checkpointed and quiet, and a new one checkpoints the next commits', async () => {
    const { db, store } = openFileLog();
    const { checkpointer, errors } = start(db);
    for (let round = 1; round <= 3; round++) {
      commitSome(store);
      // Only a worker copies frames here (NEVER): the WAL catching up means one is running.
      await vi.waitFor(() => {
        const wal = walOf(db);
        expect(wal.log).toBeGreaterThan(0);
        expect(wal.checkpointed).toBe(wal.log);
      }, HANG);
      expect(checkpointer.stats().started).toBe(round);
      await vi.waitFor(() => expect(checkpointer.stats().retired).toBe(round), HANG);
    }
    // Retired, the main connection keeps only the backstop: commits do not checkpoint.
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(NEVER);
    expect(errors).toEqual([]);
    expect(checkpointer.stats().frames).toBeGreaterThan(0);
    expect(store.head()).toBe(users);
    expect(verifyLog(db).problems).toEqual([]);
  });

  it('stops while retired: no worker to wait for, and commits checkpoint as without one', async () => {
    const { db, store } = openFileLog();
    const { checkpointer, errors } = start(db);
    await vi.waitFor(() => expect(checkpointer.stats().retired).toBe(1), HANG);
    checkpointer.stop();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    commitSome(store, 3);
    // No worker comes back after stop, however long the wake interval is given.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(checkpointer.stats().started).toBe(1);
    db.pragma('busy_timeout = 0');
    expect(db.pragma('wal_checkpoint(TRUNCATE)')).toEqual([{ busy: 0, log: 0, checkpointed: 0 }]);
    expect(errors).toEqual([]);
  });
});
