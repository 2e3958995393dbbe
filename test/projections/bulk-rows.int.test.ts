import { describe, expect, it } from 'vitest';
import { inWriteTransaction, type DomainEvent } from '../../src/log/index.js';
import { createProjector, PROJECTIONS } from '../../src/projections/index.js';
import { dumpTable } from '../helpers/dump.js';
import { AT, blocked, META, openLog, pushedFileOp, registered } from '../helpers/log.js';

// A bulk rebuild writes pushed ops many rows per statement (vaults.ts) and keeps other
// rows for its end (users' unique indexes, device counts, entity heads): the tables must
// still come out as the live, event-by-event ones, across statement and batch boundaries,
// with conflicts and other events in between.

function liveLog() {
  const { db, store } = openLog();
  const projector = createProjector(db, store, PROJECTIONS);
  const record = (stream: string, events: DomainEvent[]) =>
    inWriteTransaction(db, () => projector.apply(store.append([{ stream, events }], META, AT)));
  const tables = () =>
    Object.fromEntries(PROJECTIONS.flatMap((p) => p.tables).map((t) => [t, dumpTable(db, t)]));
  return { db, store, projector, record, tables };
}

describe('a bulk rebuild with many rows per statement', () => {
  it('gives the live users: 200 registrations with blocks, deletions and a re-registration between them', () => {
    const log = liveLog();
    for (let i = 0; i < 200; i++) {
      log.record(`user/u${i}`, [registered(`u${i}`)]);
      if (i % 37 === 5) log.record(`user/u${i}`, [blocked(`u${i}`)]);
      if (i % 50 === 20) {
        log.record(`user/u${i}`, [
          { type: 'UserDeleted', data: { userId: `u${i}`, redacted: [], blobs: [] } },
        ]);
      }
    }
    // Registered again under the same id: the upsert's conflict inside one statement.
    log.record('user/u130', [registered('u130', 'renamed-130')]);
    const live = log.tables();
    expect((live.users as unknown[]).length).toBe(196);
    for (const batch of [7, 1000]) {
      log.projector.rebuildAll(undefined, { batch, deferIndexes: true, bulk: true });
      expect(log.tables()).toEqual(live);
    }
  });

  it('gives the live vault ops: 300 ops in one append, op ids repeated, superseded ops among them', () => {
    const log = liveLog();
    log.record('user/u1', [registered('u1')]);
    const stream = 'vault/u1/notes';
    const ops = Array.from({ length: 300 }, (_, k) =>
      // Every seventh op repeats an earlier op id: stored once, counted once.
      pushedFileOp(
        k,
        `op-${k % 7 === 6 ? k - 3 : k}`,
        `Notes/${k % 11}.md`,
        k < 11 ? 'create' : 'update',
      ),
    );
    inWriteTransaction(log.db, () =>
      log.projector.apply(log.store.append([{ stream, events: ops }], META, AT)),
    );
    log.record(stream, [pushedFileOp(300, 'op-300', 'Notes/1.md', 'delete')]);
    const live = log.tables();
    expect((live.vault_ops as unknown[]).length).toBeLessThan(301);
    expect((live.superseded_ops as unknown[]).length).toBeGreaterThan(64);
    for (const batch of [5, 1000]) {
      log.projector.rebuildAll(undefined, { batch, deferIndexes: true, bulk: true });
      expect(log.tables()).toEqual(live);
    }
  });
});
