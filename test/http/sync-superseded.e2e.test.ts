import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addUser,
  pair,
  pull,
  pullAll,
  pushAccepted,
  startTestServer,
  textOp,
  type Device,
  type TestServer,
  type WireOp,
  wireOp,
} from '../helpers/sync-app.js';

// README "What a device receives": content that a later op on the same path replaces is
// left out of pulls; moves and other entity types never are.

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer({ databaseFile: ':memory:' });
  await addUser(server, 'alice');
});
afterEach(async () => server.close());

const op = wireOp;
const pushOk = (device: Device, ops: WireOp[]) => pushAccepted(server, device, ops);

/** A device whose first sync found the vault empty: from then on it sees the log. */
async function synced(name: string): Promise<Device> {
  const device = await pair(server, 'alice', 'v', name);
  expect((await pullAll(server, device)).ops).toEqual([]);
  return device;
}

const ids = (ops: { op_id: string }[]) => ops.map((o) => o.op_id);

describe('a pull', () => {
  it('leaves out a note’s earlier versions and keeps its last one, a delete and other entities', async () => {
    const reader = await synced('reader');
    const writer = await synced('writer');
    await pushOk(writer, [
      textOp('a1', 'a.md', 'one', { op_type: 'create' }),
      textOp('a2', 'a.md', 'two'),
      textOp('b1', 'b.md', 'b', { op_type: 'create' }),
      op('p1', 'plugin-record', 'r1', 'update', { v: 1 }),
      op('p2', 'plugin-record', 'r1', 'update', { v: 2 }),
      textOp('a3', 'a.md', 'three'),
      op('b-del', 'file', 'b.md', 'delete', { path: 'b.md' }),
      op('f1', 'folder', 'F', 'create', { path: 'F', contentHash: '' }),
      op('f-del', 'folder', 'F', 'delete', { path: 'F' }),
    ]);
    expect(ids((await pullAll(server, reader)).ops)).toEqual([
      'p1',
      'p2',
      'a3',
      'b-del',
      'f1',
      'f-del',
    ]);
    // A cursor between two versions still gets only the last one.
    const first = (await pull(server, reader, 0, 1)).json<{ ops: { server_sequence: number }[] }>();
    expect(ids((await pullAll(server, reader, first.ops[0]!.server_sequence)).ops)).toEqual([
      'p2',
      'a3',
      'b-del',
      'f1',
      'f-del',
    ]);
  });

  it('keeps every version across a move in between, and ops whose path is not their entity', async () => {
    const reader = await synced('reader');
    const writer = await synced('writer');
    await pushOk(writer, [
      textOp('a1', 'a.md', 'one', { op_type: 'create' }),
      op('mv', 'file', 'a.md', 'move', { fromPath: 'a.md', toPath: 'moved.md' }),
      textOp('a2', 'a.md', 'new a', { op_type: 'create' }),
      op('x1', 'file', 'entity-x', 'update', { path: 'x.md', content: '1' }),
      op('x2', 'file', 'entity-x', 'update', { path: 'x.md', content: '2' }),
    ]);
    expect(ids((await pullAll(server, reader)).ops)).toEqual(['a1', 'mv', 'a2', 'x1', 'x2']);
  });

  it('leaves out a delete that a later update of the path undoes, and keeps one before a create', async () => {
    const reader = await synced('reader');
    const writer = await synced('writer');
    await pushOk(writer, [
      op('a-del', 'file', 'a.md', 'delete', { path: 'a.md' }),
      textOp('a-edit', 'a.md', 'edited elsewhere'),
      op('b-del', 'file', 'b.md', 'delete', { path: 'b.md' }),
      textOp('b-new', 'b.md', 'new b', { op_type: 'create' }),
      op('c-del', 'file', 'c.md', 'delete', { path: 'c.md' }),
      op('c-del-2', 'file', 'c.md', 'delete', { path: 'c.md' }),
    ]);
    expect(ids((await pullAll(server, reader)).ops)).toEqual([
      'a-edit',
      'b-del',
      'b-new',
      'c-del-2',
    ]);
  });

  it('pages the remaining ops with the contract’s cursor rules', async () => {
    const reader = await synced('reader');
    const writer = await synced('writer');
    const ops = Array.from({ length: 30 }, (_, i) => textOp(`n${i}`, `n/${i % 4}.md`, `v${i}`));
    await pushOk(writer, ops);
    for (const size of [1, 2, 3, 100]) {
      const all = await pullAll(server, reader, 0, size);
      expect(ids(all.ops)).toEqual(['n26', 'n27', 'n28', 'n29']);
      expect(all.cursor).toBe(all.head);
    }
  });
});
