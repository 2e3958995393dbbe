import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addUser,
  pull,
  pullAll,
  push,
  pair,
  startTestServer,
  textOp,
  type Device,
  type PullPage,
  type TestServer,
  type WireOp,
} from '../helpers/sync-app.js';

// CONTRACT.md §1.4, §5.1–5.4 and §17.2: the (user, vault) scope of the token is the whole
// world of a device. Bob's vault has the same vault_id string as Alice's first vault.

let server: TestServer;
let alice: Device; // alice / vault-1
let aliceToo: Device; // alice / vault-1, a second device
let aliceOther: Device; // alice / vault-2
let bob: Device; // bob / vault-1
beforeEach(async () => {
  server = await startTestServer({ databaseFile: ':memory:' });
  await addUser(server, 'alice');
  await addUser(server, 'bob');
  alice = await pair(server, 'alice', 'vault-1', 'laptop');
  aliceToo = await pair(server, 'alice', 'vault-1', 'desktop');
  aliceOther = await pair(server, 'alice', 'vault-2');
  bob = await pair(server, 'bob', 'vault-1');
  // Each device's first sync while its vault is empty, so that its pulls from 0 read the log
  // rather than a snapshot of the vault.
  for (const device of [alice, aliceToo, aliceOther, bob]) await pullAll(server, device);
});
afterEach(async () => server.close());

const outsiders = () => [aliceOther, bob];

async function pushOk(device: Device, ops: WireOp[], extra: object = {}) {
  const res = await push(server, device, ops, extra);
  expect(res.statusCode, res.body).toBe(200);
  return res;
}

const ids = async (device: Device) => (await pullAll(server, device)).ops.map((o) => o.op_id);

describe('another vault of the same user and another user with the same vault_id', () => {
  it('never see the vault’s ops, from any cursor', async () => {
    await pushOk(alice, [textOp('a-1', 'a.md', 'secret'), textOp('a-2', 'b.md', 'secret')]);
    const head = server.runtime.store.head();
    for (const device of outsiders()) {
      for (const since of [0, 1, head - 1, head]) {
        const page = (await pull(server, device, since, 1000)).json<PullPage>();
        expect(page).toEqual({
          server_sequence: 0,
          page_last_sequence: since,
          has_more: false,
          ops: [],
        });
      }
    }
    expect(await ids(aliceToo)).toEqual(['a-1', 'a-2']);
  });

  it('see only their own ops and their own head while the vaults interleave', async () => {
    const expected = new Map<Device, string[]>([
      [alice, []],
      [aliceOther, []],
      [bob, []],
    ]);
    for (let round = 0; round < 4; round++) {
      for (const [device, list] of expected) {
        const id = `${device.deviceId}-${round}`;
        // The same paths in every vault; a path per round, so no round supersedes another.
        await pushOk(device, [textOp(id, `same/path-${round}.md`, `round ${round}`)]);
        list.push(id);
      }
    }
    for (const [device, list] of expected) {
      const all = await pullAll(server, device, 0, 2);
      expect(all.ops.map((o) => o.op_id)).toEqual(list);
      expect(all.ops.every((o) => o.device_id === device.deviceId)).toBe(true);
      // server_sequence is this vault's last op; the numbers have gaps where others wrote.
      expect(all.head).toBe(all.ops.at(-1)!.server_sequence);
      expect(all.ops[1]!.server_sequence - all.ops[0]!.server_sequence).toBe(3);
    }
    const heads = [alice, aliceOther, bob].map(
      async (d) => (await pull(server, d, 0, 1)).json<PullPage>().server_sequence,
    );
    expect(new Set(await Promise.all(heads)).size).toBe(3);
  });

  it('may use an op_id that exists in another scope, with any content, and it is accepted', async () => {
    const original = textOp('shared-id', 'a.md', 'alice’s text');
    await pushOk(alice, [original]);
    for (const device of outsiders()) {
      const same = await pushOk(device, [original]);
      const different = await pushOk(device, [textOp('shared-id-2', 'z.md', 'other')]);
      // The answer for a colliding id looks exactly like one for a fresh id.
      expect(same.json()).toEqual({
        accepted: ['shared-id'],
        count: 1,
        conflicts: [],
        rejected: [],
      });
      expect(different.json()).toEqual({
        accepted: ['shared-id-2'],
        count: 1,
        conflicts: [],
        rejected: [],
      });
    }
    const bobsVersion = textOp('alice-only', 'b.md', 'bob’s text');
    // Not a.md: there it would supersede shared-id in Alice's pulls.
    await pushOk(alice, [textOp('alice-only', 'c.md', 'alice’s')]);
    expect((await pushOk(bob, [bobsVersion])).json().rejected).toEqual([]);

    const bobOps = (await pullAll(server, bob)).ops;
    expect(bobOps.map((o) => [o.op_id, o.device_id])).toEqual([
      ['shared-id', bob.deviceId],
      ['shared-id-2', bob.deviceId],
      ['alice-only', bob.deviceId],
    ]);
    expect(JSON.parse(bobOps[2]!.payload_json).content).toBe('bob’s text');
    const aliceOps = (await pullAll(server, alice)).ops;
    expect(aliceOps.map((o) => [o.op_id, o.device_id])).toEqual([
      ['shared-id', alice.deviceId],
      ['alice-only', alice.deviceId],
    ]);
    expect(JSON.parse(aliceOps[1]!.payload_json).content).toBe('alice’s');
  });

  it('have their own idempotency keys', async () => {
    await pushOk(alice, [textOp('a-1', 'a.md', 'a')], { idempotency_key: 'key' });
    // A different body under Alice's key is no reuse elsewhere...
    const other = await pushOk(aliceOther, [textOp('o-1', 'b.md', 'b')], {
      idempotency_key: 'key',
    });
    expect(other.json().accepted).toEqual(['o-1']);
    // ...and the very same body is processed in Bob's vault, not answered from Alice's.
    const head = server.runtime.store.head();
    const same = await pushOk(bob, [textOp('a-1', 'a.md', 'a')], { idempotency_key: 'key' });
    expect(same.json().accepted).toEqual(['a-1']);
    expect(server.runtime.store.head()).toBe(head + 2);
    expect((await pullAll(server, bob)).ops.map((o) => [o.op_id, o.device_id])).toEqual([
      ['a-1', bob.deviceId],
    ]);
    expect(await ids(aliceOther)).toEqual(['o-1']);
    expect(await ids(alice)).toEqual(['a-1']);
  });

  it('never report or receive conflicts across the scope', async () => {
    const cursorOf = async (device: Device) => {
      await pushOk(device, [textOp(`seed-${device.deviceId}`, 'seed.md', 's')]);
      return (await pullAll(server, device)).cursor;
    };
    const aliceCursor = await cursorOf(alice);
    const outsiderCursors = await Promise.all(outsiders().map(cursorOf));
    await pushOk(alice, [textOp('a-1', 'same/path.md', 'A')]);
    await pushOk(aliceToo, [textOp('a2-1', 'same/path.md', 'A2')]);

    for (const [i, device] of outsiders().entries()) {
      const answer = await pushOk(device, [
        textOp(`o-${i}`, 'same/path.md', 'O', { last_seen_server_seq: outsiderCursors[i]! }),
        textOp(`o1-${i}`, 'same/path.md', 'O', { last_seen_server_seq: 1 }),
      ]);
      expect(answer.json().conflicts).toEqual([]);
    }
    // Alice's first device hears only of her second device, not of the outsiders' writes.
    const answer = await pushOk(alice, [
      textOp('a-2', 'same/path.md', 'A', { last_seen_server_seq: aliceCursor }),
    ]);
    expect(answer.json().conflicts.map((c: { op_id: string }) => c.op_id)).toEqual(['a2-1']);
  });
});
