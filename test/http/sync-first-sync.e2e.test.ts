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
  type PullPage,
  type TestServer,
  type WireOp,
  wireOp,
} from '../helpers/sync-app.js';

// README "What a device receives": a device's first sync is the vault's final state.

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer({ databaseFile: ':memory:' });
  await addUser(server, 'alice');
});
afterEach(async () => server.close());

const op = wireOp;
const pushOk = (device: Device, ops: WireOp[]) => pushAccepted(server, device, ops);

async function page(device: Device, since: number, size?: number) {
  const res = await pull(server, device, since, size);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<PullPage>();
}

const ids = (ops: { op_id: string }[]) => ops.map((o) => o.op_id);

let writer: Device;
beforeEach(async () => {
  writer = await pair(server, 'alice', 'v', 'writer');
  await pushOk(writer, [
    op('dir', 'folder', 'Notes', 'create', { path: 'Notes', contentHash: '' }),
    textOp('a1', 'Notes/a.md', 'one', { op_type: 'create' }),
    textOp('a2', 'Notes/a.md', 'two'),
    textOp('gone', 'gone.md', 'bye', { op_type: 'create' }),
    op('gone-del', 'file', 'gone.md', 'delete', { path: 'gone.md' }),
    textOp('m1', 'old.md', 'moved text', { op_type: 'create' }),
    op('mv', 'file', 'old.md', 'move', { fromPath: 'old.md', toPath: 'new.md' }),
    op('rec', 'plugin-record', 'r1', 'update', { value: 1 }),
  ]);
});

describe('a new device’s first sync', () => {
  it('gets each path once, a derived create where a path came through a move, and other entities unchanged', async () => {
    const late = await pair(server, 'alice', 'v', 'late');
    const got = await pullAll(server, late);
    expect(
      got.ops.map((o) => [o.op_id.startsWith('snapshot-') ? 'derived' : o.op_id, o.entity_id]),
    ).toEqual([
      ['dir', 'Notes'],
      ['a2', 'Notes/a.md'],
      ['derived', 'new.md'],
      ['rec', 'r1'],
    ]);
    const derived = got.ops[2]!;
    expect(derived).toMatchObject({
      device_id: 'server-snapshot',
      entity_type: 'file',
      op_type: 'create',
      // The origin op's (textOp's).
      created_at: '2026-11-26T10:00:00Z',
    });
    expect(JSON.parse(derived.payload_json)).toEqual({ path: 'new.md', content: 'moved text' });
    expect(derived.op_id).toMatch(/^snapshot-[0-9a-f]{40}$/);
    // The derived op sits where its content was first pushed (m1), and is the same on every pull.
    const m1 = (await pullAll(server, await pairFresh())).ops.find(
      (o) => o.entity_id === 'new.md',
    )!;
    expect([m1.op_id, m1.server_sequence]).toEqual([derived.op_id, derived.server_sequence]);
  });

  it('stops at the plan’s head with has_more: false, then delivers newer ops as changes', async () => {
    const late = await pair(server, 'alice', 'v', 'late');
    const first = await page(late, 0, 2);
    expect(ids(first.ops)).toEqual(['dir', 'a2']);
    expect(first.has_more).toBe(true);
    await pushOk(writer, [textOp('a3', 'Notes/a.md', 'three')]);
    const rest = await page(late, first.page_last_sequence, 100);
    expect(rest.ops).toHaveLength(2);
    expect(rest.has_more).toBe(false);
    expect(rest.page_last_sequence).toBe(rest.ops[1]!.server_sequence);
    const after = await pullAll(server, late, rest.page_last_sequence);
    expect(ids(after.ops)).toEqual(['a3']);
    expect(after.cursor).toBe(after.head);
  });

  it('resumed from a saved cursor continues the same plan, also after newer pushes', async () => {
    const late = await pair(server, 'alice', 'v', 'late');
    const first = await page(late, 0, 1);
    await pushOk(writer, [
      op('gone-again', 'file', 'Notes/a.md', 'delete', { path: 'Notes/a.md' }),
    ]);
    const resumed = await pullAll(server, late, first.page_last_sequence, 1);
    expect(resumed.ops.map((o) => o.entity_id)).toEqual(['Notes/a.md', 'new.md', 'r1']);
    // Its next sync pulls the delete like any other change.
    expect(ids((await pullAll(server, late, resumed.cursor)).ops)).toEqual(['gone-again']);
  });

  it('is the log itself for a device whose first pull found the vault empty', async () => {
    await addUser(server, 'bob');
    const early = await pair(server, 'bob', 'w', 'early');
    expect((await pullAll(server, early)).ops).toEqual([]);
    const bobWriter = await pair(server, 'bob', 'w', 'writer');
    await pushOk(bobWriter, [
      textOp('x1', 'x.md', 'x', { op_type: 'create' }),
      op('x-del', 'file', 'x.md', 'delete', { path: 'x.md' }),
    ]);
    expect(ids((await pullAll(server, early)).ops)).toEqual(['x-del']);
  });
});

let fresh = 0;
const pairFresh = () => pair(server, 'alice', 'v', `fresh-${(fresh += 1)}`);
