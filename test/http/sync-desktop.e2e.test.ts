import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addUser,
  pair,
  pull,
  pullAll,
  push,
  startTestServer,
  textOp,
  type Device,
  type PulledOp,
  type PullPage,
  type TestServer,
  type WireOp,
} from '../helpers/sync-app.js';

// The [D] behaviours of CONTRACT.md §4.6, §4.7 and §5 that the desktop's sync loop relies on.

interface Conflict {
  op_id: string;
  device_id: string;
  op_type: string;
  server_sequence: number;
  entity_type: string;
  entity_id: string;
}

interface PushAnswer {
  accepted: string[];
  count: number;
  conflicts: Conflict[];
  rejected: { op_id: string; reason: string }[];
}

const op = (
  id: string,
  entityType: string,
  entityId: string,
  opType: string,
  payload: object = {},
): WireOp => ({
  op_id: id,
  entity_type: entityType,
  entity_id: entityId,
  op_type: opType,
  payload_json: JSON.stringify(payload),
  created_at: '2026-11-26T10:00:00Z',
});

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer({ databaseFile: ':memory:' });
  await addUser(server, 'alice');
});
afterEach(async () => server.close());

async function pushOk(device: Device, ops: WireOp[], extra: object = {}): Promise<PushAnswer> {
  const res = await push(server, device, ops, extra);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<PushAnswer>();
}

/**
 * One desktop sync round as CONTRACT.md §4.7 describes it: pull from the cursor, push
 * with last_seen_server_seq = cursor, pull again from the same cursor.
 */
function desktop(device: Device) {
  let cursor = 0;
  const pulled: PulledOp[] = [];
  const pullLoop = async () => {
    const page = await pullAll(server, device, cursor);
    cursor = page.cursor;
    pulled.push(...page.ops);
    return page.ops;
  };
  return {
    device,
    pulled,
    get cursor() {
      return cursor;
    },
    async sync(ops: WireOp[]) {
      const before = await pullLoop();
      const answer =
        ops.length > 0
          ? await pushOk(
              device,
              ops.map((o) => ({ ...o, last_seen_server_seq: cursor })),
            )
          : undefined;
      const after = await pullLoop();
      return { before, answer, after };
    },
  };
}

const idsOf = (ops: readonly PulledOp[]) => ops.map((o) => o.op_id);
/** Each stored op's server_sequence by op_id, superseded ones included. */
const storedSeqs = () =>
  new Map(
    server.runtime.store
      .readRange(0, 10_000)
      .flatMap((e) => (e.type === 'OperationPushed' ? [[e.data.op.op_id, e.seq] as const] : [])),
  );
const authorsOf = (ops: readonly PulledOp[]) => ops.map((o) => [o.op_id, o.device_id]);

describe('two devices of one vault', () => {
  it('converge through creates, updates, moves, a delete and re-create, trash and restore', async () => {
    const a = desktop(await pair(server, 'alice', 'vault-1', 'laptop'));
    const b = desktop(await pair(server, 'alice', 'vault-1', 'desktop'));
    const A = a.device.deviceId;
    const B = b.device.deviceId;

    const r1 = await a.sync([
      op('a-1', 'folder', 'notes', 'create', { path: 'notes' }),
      textOp('a-2', 'notes/one.md', 'v1', { op_type: 'create' }),
      textOp('a-3', 'notes/two.md', 'v1', { op_type: 'create' }),
    ]);
    expect(r1.answer).toEqual({
      accepted: ['a-1', 'a-2', 'a-3'],
      count: 3,
      conflicts: [],
      rejected: [],
    });
    // Own ops come back with the author's device_id; the desktop skips applying them.
    expect(authorsOf(r1.after)).toEqual([
      ['a-1', A],
      ['a-2', A],
      ['a-3', A],
    ]);

    const r2 = await b.sync([
      textOp('b-1', 'notes/one.md', 'v2'),
      op('b-2', 'file', 'notes/two.md', 'move', { fromPath: 'notes/two.md', toPath: 'notes/2.md' }),
      op('b-3', 'workspace', 'ws-1', 'create', { name: 'Work' }),
    ]);
    expect(authorsOf(r2.before)).toEqual([
      ['a-1', A],
      ['a-2', A],
      ['a-3', A],
    ]);
    expect(r2.answer).toEqual({
      accepted: ['b-1', 'b-2', 'b-3'],
      count: 3,
      conflicts: [],
      rejected: [],
    });
    expect(authorsOf(r2.after)).toEqual([
      ['b-1', B],
      ['b-2', B],
      ['b-3', B],
    ]);

    const r3 = await a.sync([
      op('a-4', 'file', 'notes/one.md', 'delete', { path: 'notes/one.md' }),
      textOp('a-5', 'notes/one.md', 'reborn', { op_type: 'create' }),
      op('a-6', 'workspace', 'ws-1', 'trash'),
    ]);
    expect(idsOf(r3.before)).toEqual(['b-1', 'b-2', 'b-3']);
    expect(r3.answer?.accepted).toEqual(['a-4', 'a-5', 'a-6']);

    const r4 = await b.sync([
      op('b-4', 'workspace', 'ws-1', 'restore'),
      op('b-5', 'plugin-record', 'tasks/1', 'update', { done: true }),
    ]);
    expect(idsOf(r4.before)).toEqual(['a-4', 'a-5', 'a-6']);
    expect(r4.answer?.conflicts).toEqual([]);
    await a.sync([]);

    const all = ['a-1', 'a-2', 'a-3', 'b-1', 'b-2', 'b-3', 'a-4', 'a-5', 'a-6', 'b-4', 'b-5'];
    expect(idsOf(a.pulled)).toEqual(all);
    expect(a.pulled).toEqual(b.pulled);
    expect(a.cursor).toBe(b.cursor);
    const seqs = a.pulled.map((o) => o.server_sequence);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    const reborn = a.pulled.find((o) => o.op_id === 'a-5')!;
    expect(JSON.parse(reborn.payload_json)).toEqual({ path: 'notes/one.md', content: 'reborn' });
  });

  it('stores the authenticated device, not the device_id in the push body', async () => {
    const a = await pair(server, 'alice', 'vault-1', 'laptop');
    const b = await pair(server, 'alice', 'vault-1', 'desktop');
    await pushOk(b, [textOp('b-1', 'x.md', 'x')], { device_id: a.deviceId });
    await pushOk(b, [textOp('b-2', 'y.md', 'y')], { device_id: 'dev_forged' });
    const ops = (await pullAll(server, a)).ops;
    expect(authorsOf(ops)).toEqual([
      ['b-1', b.deviceId],
      ['b-2', b.deviceId],
    ]);
  });

  it('lets a device paired later restore the vault from sequence 0: each note once, its last version', async () => {
    const a = await pair(server, 'alice', 'vault-1');
    const ops = Array.from({ length: 230 }, (_, i) => textOp(`op-${i}`, `n/${i % 7}.md`, `c${i}`));
    for (let i = 0; i < ops.length; i += 100) await pushOk(a, ops.slice(i, i + 100));
    const late = await pair(server, 'alice', 'vault-1', 'new laptop');
    const restored = await pullAll(server, late);
    // The last op of each of the 7 notes, in log order, as the author pushed it.
    expect(idsOf(restored.ops)).toEqual(ops.slice(223).map((o) => o.op_id));
    expect(restored.ops.every((o) => o.device_id === a.deviceId)).toBe(true);
    expect(restored.ops.map((o) => o.payload_json)).toEqual(
      ops.slice(223).map((o) => o.payload_json),
    );
    expect(restored.head).toBe(restored.cursor);
    expect((await pullAll(server, late, 0, 3)).ops).toEqual(restored.ops);
  });

  it('takes a desktop-sized batch (100 notes of 30 KiB) and a 1 MiB note in one push each', async () => {
    const a = await pair(server, 'alice', 'vault-1');
    const b = await pair(server, 'alice', 'vault-1', 'desktop');
    // Quotes, backslashes, newlines and Cyrillic make JSON escaping grow the payload.
    const text = (kib: number, seed: number) =>
      `# Note ${seed}\n${'Заметка "quoted" \\ back\n'.repeat(Math.ceil((kib * 1024) / 20))}`.slice(
        0,
        kib * 1024,
      );
    const batch = Array.from({ length: 100 }, (_, i) =>
      textOp(`note-${i}`, `notes/${i}.md`, text(30, i)),
    );
    expect((await pushOk(a, batch)).count).toBe(100);
    const big = textOp('big', 'notes/big.md', text(1024, 0));
    expect(big.payload_json.length).toBeGreaterThan(1024 * 1024);
    expect(await pushOk(a, [big])).toEqual({
      accepted: ['big'],
      count: 1,
      conflicts: [],
      rejected: [],
    });
    const pulled = (await pullAll(server, b)).ops;
    expect(pulled.map((o) => o.payload_json)).toEqual([...batch, big].map((o) => o.payload_json));
  });
});

describe('conflict reports (CONTRACT.md §5.4)', () => {
  it('lists other devices’ non-delete ops on the same entity after last_seen_server_seq', async () => {
    const a = await pair(server, 'alice', 'vault-1', 'laptop');
    const b = await pair(server, 'alice', 'vault-1', 'desktop');
    await pushOk(a, [textOp('base', 'other.md', 'x')]);
    const cursor = (await pullAll(server, b)).cursor;
    expect(cursor).toBeGreaterThan(0);

    await pushOk(a, [
      textOp('a-1', 'n1.md', 'A edit'),
      op('a-2', 'file', 'n1.md', 'delete'),
      textOp('a-3', 'n2.md', 'A edit'),
      op('a-4', 'folder', 'n1.md', 'rename', { to: 'n1' }),
    ]);
    // Read from the log, not a pull: a-2 supersedes a-1, so no pull returns a-1 any more,
    // yet a-1 is what B's edit conflicts with.
    const seqOf = storedSeqs();
    // last_seen 0 means "no check", even though a-1 is newer than anything B has seen.
    expect((await pushOk(b, [textOp('b-0', 'n1.md', 'B first')])).conflicts).toEqual([]);
    // A pulls b-0 now, like a desktop between syncs: b-1 supersedes it once pushed.
    const seenB0 = await pullAll(server, a, seqOf.get('a-4'));

    const bOps = [
      textOp('b-1', 'n1.md', 'B edit', { last_seen_server_seq: cursor }),
      { ...op('b-2', 'file', 'n2.md', 'rename', { to: 'n2b.md' }), last_seen_server_seq: cursor },
      textOp('b-3', 'n3.md', 'untouched', { last_seen_server_seq: cursor }),
    ];
    const answer = await pushOk(b, bOps);
    const conflict = (id: string, entityId: string, opType: string): Conflict => ({
      op_id: id,
      device_id: a.deviceId,
      op_type: opType,
      server_sequence: seqOf.get(id)!,
      entity_type: 'file',
      entity_id: entityId,
    });
    // Not a-2 (a delete), not b-0 (B's own), not a-4 (another entity_type), not `base`.
    expect(answer).toEqual({
      accepted: ['b-1', 'b-2', 'b-3'],
      count: 3,
      conflicts: [conflict('a-1', 'n1.md', 'update'), conflict('a-3', 'n2.md', 'update')],
      rejected: [],
    });

    // Conflicts never block: the ops are stored and reach the other device.
    const seen = [...seenB0.ops, ...(await pullAll(server, a, seenB0.cursor)).ops];
    expect(idsOf(seen)).toEqual(['b-0', 'b-1', 'b-2', 'b-3']);

    // A re-pushed duplicate still reports its conflicts, and is not stored again.
    const head = server.runtime.store.head();
    expect(await pushOk(b, [bOps[0]!])).toEqual({
      accepted: ['b-1'],
      count: 1,
      conflicts: [conflict('a-1', 'n1.md', 'update')],
      rejected: [],
    });
    expect(server.runtime.store.head()).toBe(head);

    // Only ops after last_seen count: from a-1 on, only the delete remains on n1.md.
    const later = textOp('b-4', 'n1.md', 'B again', { last_seen_server_seq: seqOf.get('a-1')! });
    expect((await pushOk(b, [later])).conflicts).toEqual([]);
  });

  it('concatenates the entries of every op in the push, across several other devices', async () => {
    const a = await pair(server, 'alice', 'vault-1', 'a');
    const b = await pair(server, 'alice', 'vault-1', 'b');
    const c = await pair(server, 'alice', 'vault-1', 'c');
    await pushOk(c, [textOp('c-0', 'seed.md', 's')]);
    const cursor = server.runtime.store.head();
    await pushOk(a, [textOp('a-1', 'x.md', '1'), textOp('a-2', 'y.md', '1')]);
    await pushOk(b, [textOp('b-1', 'x.md', '2')]);
    const answer = await pushOk(c, [
      textOp('c-1', 'y.md', 'c', { last_seen_server_seq: cursor }),
      textOp('c-2', 'x.md', 'c', { last_seen_server_seq: cursor }),
    ]);
    expect(answer.conflicts.map((k) => [k.op_id, k.device_id, k.entity_id])).toEqual([
      ['a-2', a.deviceId, 'y.md'],
      ['a-1', a.deviceId, 'x.md'],
      ['b-1', b.deviceId, 'x.md'],
    ]);
  });
});

describe('pull pages (CONTRACT.md §4.7)', () => {
  let a: Device;
  let ids: string[];
  beforeEach(async () => {
    a = await pair(server, 'alice', 'vault-1');
    const ops = Array.from({ length: 1050 }, (_, i) => op(`op-${i}`, 'file', `f/${i}`, 'update'));
    ids = ops.map((o) => o.op_id);
    await pushOk(a, ops.slice(0, 1000));
    await pushOk(a, ops.slice(1000));
  });
  const page = async (since: number, limit?: number) => {
    const res = await pull(server, a, since, limit);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<PullPage>();
  };

  it('defaults to 100 ops, allows up to 1000 and clamps larger limits, never refusing them', async () => {
    expect((await page(0)).ops).toHaveLength(100);
    expect((await page(0, 0)).ops).toHaveLength(100);
    expect((await page(0, 1)).ops).toHaveLength(1);
    const max = await page(0, 1000);
    expect(idsOf(max.ops)).toEqual(ids.slice(0, 1000));
    expect(max.has_more).toBe(true);
    expect(await page(0, 5000)).toEqual(max);
    expect(await page(0, Number.MAX_SAFE_INTEGER)).toEqual(max);
  });

  it('sets has_more only when ops remain and page_last_sequence to the last op returned', async () => {
    const first = await page(0, 1000);
    expect(first.page_last_sequence).toBe(first.ops.at(-1)!.server_sequence);
    const rest = await page(first.page_last_sequence, 50);
    expect(idsOf(rest.ops)).toEqual(ids.slice(1000));
    expect(rest.has_more).toBe(false);
    const nearlyAll = await page(first.page_last_sequence, 49);
    expect(nearlyAll.has_more).toBe(true);
    expect(rest.server_sequence).toBe(rest.page_last_sequence);
  });

  it('echoes since_sequence on an empty page, wherever the cursor stands', async () => {
    const head = (await page(0)).server_sequence;
    const other = await pair(server, 'alice', 'vault-2');
    await pushOk(other, [textOp('elsewhere', 'e.md', 'e')]);
    const globalHead = server.runtime.store.head();
    for (const since of [head, globalHead - 1, globalHead]) {
      expect(await page(since)).toEqual({
        server_sequence: head,
        page_last_sequence: since,
        has_more: false,
        ops: [],
      });
    }
    expect(await pull(server, other, 0).then((r) => r.json<PullPage>())).toMatchObject({
      server_sequence: globalHead,
      ops: [{ op_id: 'elsewhere', server_sequence: globalHead }],
    });
  });

  it('reports the vault’s own head as server_sequence, not a later op of another vault', async () => {
    const before = await page(0, 1);
    const other = await pair(server, 'alice', 'vault-2');
    await pushOk(other, [textOp('elsewhere', 'e.md', 'e')]);
    const after = await page(0, 1);
    expect(after.server_sequence).toBe(before.server_sequence);
    expect(after.server_sequence).toBeLessThan(server.runtime.store.head());
    const empty = await startTestServer({ databaseFile: ':memory:' });
    try {
      await addUser(empty, 'alice');
      const fresh = await pair(empty, 'alice', 'vault-1');
      expect((await pull(empty, fresh, 0)).json()).toEqual({
        server_sequence: 0,
        page_last_sequence: 0,
        has_more: false,
        ops: [],
      });
    } finally {
      await empty.close();
    }
  });
});

describe('push answers', () => {
  it('answers ops: [] with 200, count 0 and appends nothing', async () => {
    const a = await pair(server, 'alice', 'vault-1');
    const head = server.runtime.store.head();
    const res = await push(server, a, []);
    expect(res.statusCode).toBe(200);
    // Empty lists are [] rather than the reference's null: a deliberate choice, since
    // CONTRACT.md §2 has clients accept both and the desktop does.
    expect(res.body).toBe('{"accepted":[],"count":0,"conflicts":[],"rejected":[]}\n');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(server.runtime.store.head()).toBe(head);
  });

  it('acknowledges a retried push whose answer was lost, storing only what is new', async () => {
    const a = await pair(server, 'alice', 'vault-1');
    const first = [textOp('op-1', 'a.md', 'a'), textOp('op-2', 'b.md', 'b')];
    await pushOk(a, first);
    const head = server.runtime.store.head();
    const retry = await pushOk(a, [...first, textOp('op-3', 'c.md', 'c')]);
    expect(retry).toEqual({
      accepted: ['op-1', 'op-2', 'op-3'],
      count: 3,
      conflicts: [],
      rejected: [],
    });
    expect(server.runtime.store.head()).toBe(head + 1);
    expect(idsOf((await pullAll(server, a)).ops)).toEqual(['op-1', 'op-2', 'op-3']);
  });

  it('rejects a different op under a stored op_id and lets the rest of the batch through', async () => {
    const a = await pair(server, 'alice', 'vault-1');
    const b = await pair(server, 'alice', 'vault-1', 'desktop');
    await pushOk(a, [textOp('op-1', 'a.md', 'a')]);
    const answer = await pushOk(b, [
      textOp('op-0', 'z.md', 'z'),
      textOp('op-1', 'a.md', 'changed'),
      textOp('op-2', 'b.md', 'b'),
    ]);
    expect(answer.accepted).toEqual(['op-0', 'op-2']);
    expect(answer.count).toBe(2);
    expect(answer.rejected).toEqual([{ op_id: 'op-1', reason: expect.stringMatching(/\S/) }]);
    const ops = (await pullAll(server, a)).ops;
    expect(idsOf(ops)).toEqual(['op-1', 'op-0', 'op-2']);
    expect(JSON.parse(ops[0]!.payload_json).content).toBe('a');
    // The second copy of an op_id inside one request is skipped too (CONTRACT.md §5.3).
    const twice = await pushOk(a, [textOp('op-9', 'q.md', 'q'), textOp('op-9', 'q.md', 'q')]);
    expect(twice).toEqual({ accepted: ['op-9'], count: 1, conflicts: [], rejected: [] });
    expect(
      (await pushOk(a, [textOp('op-8', 'r.md', 'r'), textOp('op-8', 'r.md', 'other')])).rejected,
    ).toEqual([{ op_id: 'op-8', reason: expect.any(String) }]);
  });
});
