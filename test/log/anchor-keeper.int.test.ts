import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CATALOGUE,
  createEventStore,
  migrateLog,
  openDatabase,
  type EventStore,
} from '../../src/log/index.js';
import { anchorFileOf } from '../../src/log/anchor.js';
import { checkAnchor } from '../../src/log/anchor-check.js';
import { anchorKeySourceOf, anchorKeyState } from '../../src/log/anchor-key.js';
import {
  AnchorRefusedError,
  createAnchorKeeper,
  guardAppends,
} from '../../src/log/anchor-keeper.js';
import { AT, META, registered } from '../helpers/log.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A log in a real data directory, checkpointed only when a test says so. */
function logInDir() {
  const dir = mkdtempSync(join(tmpdir(), 'verstak-anchor-'));
  const db = openDatabase(join(dir, 'server.db'));
  db.pragma('wal_autocheckpoint = 0');
  migrateLog(db, () => 'epoch-1');
  cleanups.push(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, db, store: createEventStore(db, CATALOGUE) };
}

let users = 0;
const append = (store: EventStore, n: number) => {
  for (let i = 0; i < n; i++) {
    const id = `u${++users}`;
    store.append([{ stream: `user/${id}`, events: [registered(id)] }], META, AT);
  }
};

const anchorIn = (dir: string) =>
  JSON.parse(readFileSync(anchorFileOf(dir), 'utf8')) as { seq: number; state: string };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the anchor keeper', () => {
  it('never names an event that is only in the WAL: a torn WAL cannot truncate below it', async () => {
    const { dir, db, store } = logInDir();
    append(store, 3);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const keeper = createAnchorKeeper({
      db,
      dataDir: dir,
      keySource: anchorKeySourceOf(dir, {}),
      server: true,
      everyMs: 10,
    });
    keeper.start();
    expect(anchorIn(dir)).toMatchObject({ seq: 3, state: 'open' });
    append(guardAppends(store, keeper), 2);
    // Several ticks pass: seq 4-5 sit in the WAL, so the anchor stays at 3.
    await sleep(150);
    expect(anchorIn(dir).seq).toBe(3);
    db.pragma('wal_checkpoint(PASSIVE)');
    await expect.poll(() => anchorIn(dir).seq, { timeout: 5_000 }).toBe(5);
    keeper.close();
    expect(anchorIn(dir)).toMatchObject({ seq: 5, state: 'closed' });
  });

  it('closes `closed` at the head once the WAL is folded in, and refuses appends past a forged tail', () => {
    const { dir, db, store } = logInDir();
    const source = anchorKeySourceOf(dir, {});
    const first = createAnchorKeeper({ db, dataDir: dir, keySource: source, server: false });
    append(guardAppends(store, first), 2);
    // A command marks the anchor open before its first event.
    expect(anchorIn(dir)).toMatchObject({ seq: 0, state: 'open' });
    db.pragma('wal_checkpoint(TRUNCATE)');
    first.close();
    expect(anchorIn(dir)).toMatchObject({ seq: 2, state: 'closed' });

    // Appended by something that does not keep the anchor.
    append(store, 1);
    const second = createAnchorKeeper({ db, dataDir: dir, keySource: source, server: false });
    expect(second.check.findings).toEqual([
      expect.objectContaining({ level: 'failure', code: 'appended_after_close' }),
    ]);
    expect(() => append(guardAppends(store, second), 1)).toThrow(AnchorRefusedError);
    second.close();
    expect(anchorIn(dir)).toMatchObject({ seq: 2, state: 'closed' });
  });

  it('tells a database of another epoch from its anchor', () => {
    const { dir, db, store } = logInDir();
    const source = anchorKeySourceOf(dir, {});
    const keeper = createAnchorKeeper({ db, dataDir: dir, keySource: source, server: false });
    append(guardAppends(store, keeper), 1);
    db.pragma('wal_checkpoint(TRUNCATE)');
    keeper.close();
    db.prepare("UPDATE log_info SET value = 'epoch-2' WHERE key = 'epoch'").run();
    const { findings } = checkAnchor(db, anchorFileOf(dir), anchorKeyState(source));
    expect(findings).toEqual([
      expect.objectContaining({
        code: 'other_epoch',
        message: expect.stringContaining('epoch epoch-1, the log is epoch epoch-2') as string,
      }),
    ]);
  });
});
