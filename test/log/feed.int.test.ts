import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import {
  CATALOGUE,
  createEventStore,
  createFeedReader,
  migrateLog,
  openDatabase,
  DamagedEventError,
  type FeedPage,
} from '../../src/log/index.js';
import { damageRecordHeader, SERIAL_TYPE } from '../helpers/record-header.js';

const wireOp = fc.record({
  op_id: fc.string({ minLength: 1 }),
  device_id: fc.string(),
  entity_type: fc.string(),
  entity_id: fc.string(),
  op_type: fc.string(),
  payload_json: fc.oneof(fc.string(), fc.json(), fc.constant(',"op":{"op_id":"x"}}')),
  created_at: fc.string(),
});

const conflict = fc.record({
  op_id: fc.constantFrom(',"op":{', 'a"b', 'plain'),
  device_id: fc.string(),
  op_type: fc.string(),
  server_sequence: fc.nat(),
  entity_type: fc.string(),
  entity_id: fc.string(),
});

/** The ops of a joined page, parsed as the desktop reads them. */
const opsOf = (page: FeedPage) =>
  JSON.parse(`[${page.ops}]`) as ({ server_sequence: number; op_id: string } & Record<
    string,
    unknown
  >)[];

/** An OperationPushed event of op `op-<i>`. */
const opEvent = (i: number, payload = '{}') => ({
  type: 'OperationPushed' as const,
  data: {
    client_sequence: i,
    last_seen_server_seq: 0,
    conflicts: [],
    op: {
      op_id: `op-${i}`,
      device_id: 'd',
      entity_type: 'file',
      entity_id: `${i}.md`,
      op_type: 'create',
      payload_json: payload,
      created_at: '',
    },
  },
});

/** The answer kept for a retried push, stored in the vault's stream between its ops. */
const answerEvent = {
  type: 'PushAnswered' as const,
  data: { userId: 'u1', vaultId: 'v1', idempotencyKey: 'k', requestDigest: 'd', response: '{}' },
};

describe('the pull feed', () => {
  // The feed cuts each op out of the stored JSON text instead of parsing it.
  test.prop([
    fc.array(fc.record({ op: wireOp, conflicts: fc.array(conflict, { maxLength: 3 }) }), {
      minLength: 1,
      maxLength: 8,
    }),
  ])('serves each op exactly as pushed, whatever its strings contain', (pushed) => {
    const db = openDatabase(':memory:');
    migrateLog(db, () => 'epoch');
    const store = createEventStore(db, CATALOGUE);
    store.append(
      [
        {
          stream: 'vault/u1/v1',
          events: pushed.map((p) => ({
            type: 'OperationPushed' as const,
            data: { client_sequence: 1, last_seen_server_seq: 2, conflicts: p.conflicts, op: p.op },
          })),
        },
      ],
      { actor: 'test' },
      new Date(),
    );
    const ops = opsOf(createFeedReader(db).joined('vault/u1/v1', 0, 100));
    expect(ops).toEqual(pushed.map((p, i) => ({ server_sequence: i + 1, ...p.op })));
    expect(ops.every((op) => Object.keys(op)[0] === 'server_sequence')).toBe(true);
    db.close();
  });

  test('reads only its own stream, after the cursor, in order', () => {
    const db = openDatabase(':memory:');
    migrateLog(db, () => 'epoch');
    const store = createEventStore(db, CATALOGUE);
    const op = (id: string) => ({
      type: 'OperationPushed' as const,
      data: {
        client_sequence: 0,
        last_seen_server_seq: 0,
        conflicts: [],
        op: {
          op_id: id,
          device_id: 'd',
          entity_type: 'file',
          entity_id: id,
          op_type: 'create',
          payload_json: '',
          created_at: '',
        },
      },
    });
    store.append(
      [{ stream: 'vault/u1/v1', events: [op('a'), op('b')] }],
      { actor: 't' },
      new Date(),
    );
    store.append([{ stream: 'vault/u1/v2', events: [op('x')] }], { actor: 't' }, new Date());
    store.append([{ stream: 'vault/u1/v1', events: [op('c')] }], { actor: 't' }, new Date());
    const feed = createFeedReader(db);
    const seqs = (after: number, size: number) =>
      opsOf(feed.joined('vault/u1/v1', after, size)).map((op) => op.server_sequence);
    expect(seqs(0, 10)).toEqual([1, 2, 4]);
    expect(seqs(2, 10)).toEqual([4]);
    expect(seqs(0, 2)).toEqual([1, 2]);
    expect(opsOf(feed.joined('vault/u1/v2', 0, 10)).map((op) => op.op_id)).toEqual(['x']);
    db.close();
  });

  test.prop([
    fc.nat({ max: 12 }),
    fc.nat({ max: 14 }),
    fc.integer({ min: 1, max: 15 }),
    fc.nat({ max: 3 }),
    fc.option(fc.array(fc.boolean(), { maxLength: 12 }), { nil: undefined }),
  ])(
    "joins a page of exactly the stream's ops after the cursor, knowing whether more follow",
    (count, after, size, answerEvery, superseded) => {
      const db = openDatabase(':memory:');
      migrateLog(db, () => 'epoch');
      const store = createEventStore(db, CATALOGUE);
      for (let i = 0; i < count; i++) {
        const stream = i % 3 === 2 ? 'vault/u1/other' : 'vault/u1/v1';
        // Answers kept for retried pushes sit between the ops and are never served.
        const answer = answerEvery > 0 && i % answerEvery === 0 ? [answerEvent] : [];
        const events = [opEvent(i, '{"é":"\\u0000"}'), ...answer];
        store.append([{ stream, events }], { actor: 't' }, new Date());
      }
      // A filtered page leaves out the ops superseded_ops lists (the vaults projection's).
      db.exec('CREATE TABLE superseded_ops (seq INTEGER PRIMARY KEY, vault INTEGER NOT NULL)');
      const skipped = new Set<number>();
      superseded?.forEach((skip, seq) => {
        if (!skip) return;
        db.prepare('INSERT INTO superseded_ops (seq, vault) VALUES (?, 1)').run(seq + 1);
        skipped.add(seq + 1);
      });
      // The reference: the stream's events decoded by the store, not cut from their text.
      const ops = store.readStream('vault/u1/v1').filter((e) => e.type === 'OperationPushed');
      const all = ops
        .filter((e) => e.seq > after && !(superseded && skipped.has(e.seq)))
        .map((e) => ({ server_sequence: e.seq, ...(e.data as { op: object }).op }));
      const page = createFeedReader(db).joined(
        'vault/u1/v1',
        after,
        size,
        superseded !== undefined,
      );
      const expected = all.slice(0, size);
      expect(opsOf(page)).toEqual(expected);
      expect(page.count).toBe(expected.length);
      expect(page.lastSeq).toBe(expected.at(-1)?.server_sequence);
      expect(page.hasMore).toBe(all.length > size);
      db.close();
    },
  );

  // A few zero bytes at the start of a cell make SQLite read every column of the row as
  // NULL (or as 0) without an error, while the stream index still lists it under its vault.
  test.each(
    (['null', 'zero'] as const).flatMap((reads) =>
      [false, true].map((withAnswer) => ({
        reads,
        serialType: SERIAL_TYPE[reads],
        log: withAnswer ? 'a log that keeps answers' : 'a log that never kept an answer',
        withAnswer,
      })),
    ),
  )('refuses a row whose columns all read as $reads, in $log', ({ serialType, withAnswer }) => {
    const dir = mkdtempSync(join(tmpdir(), 'vss-feed-null-row-'));
    const file = join(dir, 'server.db');
    try {
      const db = openDatabase(file);
      migrateLog(db, () => 'epoch');
      const store = createEventStore(db, CATALOGUE);
      const ops = [opEvent(1), opEvent(2), opEvent(3)];
      const events = withAnswer ? [...ops, answerEvent] : ops;
      store.append([{ stream: 'vault/u1/v1', events }], { actor: 't' }, new Date());
      db.close();
      damageRecordHeader(file, 'log_events', 2, serialType);

      const damaged = openDatabase(file);
      const feed = createFeedReader(damaged);
      const seqs = (after: number) =>
        opsOf(feed.joined('vault/u1/v1', after, 10)).map((o) => o.server_sequence);
      expect(seqs(0)).toEqual([1]);
      expect(() => feed.joined('vault/u1/v1', 1, 10)).toThrow(DamagedEventError);
      expect(seqs(2)).toEqual([3]);
      damaged.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
