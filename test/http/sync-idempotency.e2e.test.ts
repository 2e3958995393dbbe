import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import {
  addUser,
  pair,
  pullAll,
  push,
  startTestServer,
  textOp,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';

// CONTRACT.md §4.6 step 1 and §5.2: idempotency keys, per (user, vault), kept
// retention.idempotency_hours (24 by default).

const HOUR = 3_600_000;
const clock = createManualClock('2026-11-26T10:00:00.000Z');

let server: TestServer;
let a: Device;
let b: Device;
beforeEach(async () => {
  clock.set('2026-11-26T10:00:00.000Z');
  server = await startTestServer({ databaseFile: ':memory:', clock });
  await addUser(server, 'alice');
  await addUser(server, 'bob');
  a = await pair(server, 'alice', 'vault-1', 'laptop');
  b = await pair(server, 'alice', 'vault-1', 'desktop');
});
afterEach(async () => server.close());

const opIds = async (device: Device) => (await pullAll(server, device)).ops.map((o) => o.op_id);

describe('a push with an idempotency key', () => {
  it('is answered byte for byte from the stored answer on a retry, appending nothing', async () => {
    // A follows the vault after every push, like a desktop: each later op on n.md
    // supersedes the one before, so no single pull from 0 shows them all.
    const seen: string[] = [];
    let aCursor = 0;
    const catchUp = async () => {
      const page = await pullAll(server, a, aCursor);
      aCursor = page.cursor;
      seen.push(...page.ops.map((o) => o.op_id));
    };
    await catchUp(); // A's first sync, while the vault is empty: it is not a snapshot.
    await push(server, a, [textOp('seed', 'seed.md', 's')]);
    const cursor = server.runtime.store.head();
    await push(server, a, [textOp('a-1', 'n.md', 'A')]);
    await catchUp();
    const ops = [textOp('b-1', 'n.md', 'B', { last_seen_server_seq: cursor })];
    const first = await push(server, b, ops, { idempotency_key: 'key-1' });
    expect(first.statusCode).toBe(200);
    expect(first.json().conflicts.map((c: { op_id: string }) => c.op_id)).toEqual(['a-1']);
    const head = server.runtime.store.head();
    await catchUp();

    // The vault moved on: a fresh processing would now report a-2 as well.
    await push(server, a, [textOp('a-2', 'n.md', 'A again')]);
    const headAfterA = server.runtime.store.head();
    const retry = await push(server, b, ops, { idempotency_key: 'key-1' });
    expect(retry.statusCode).toBe(200);
    expect(retry.body).toBe(first.body);
    expect(retry.headers['content-type']).toBe(first.headers['content-type']);
    expect(server.runtime.store.head()).toBe(headAfterA);
    expect(headAfterA).toBe(head + 1);
    await catchUp();
    expect(seen).toEqual(['seed', 'a-1', 'b-1', 'a-2']);
    // From 0, a-2 stands for the edits of n.md it superseded.
    expect(await opIds(a)).toEqual(['seed', 'a-2']);
  });

  it('refuses the same key with a different body with 422 and applies nothing', async () => {
    await push(server, a, [textOp('op-1', 'a.md', 'a')], { idempotency_key: 'key-1' });
    const head = server.runtime.store.head();
    for (const ops of [
      [textOp('op-2', 'b.md', 'b')],
      [textOp('op-1', 'a.md', 'changed')],
      [textOp('op-1', 'a.md', 'a'), textOp('op-2', 'b.md', 'b')],
      [],
    ]) {
      const res = await push(server, a, ops, { idempotency_key: 'key-1' });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({ error: expect.any(String), code: 'idempotency_key_reused' });
    }
    expect(server.runtime.store.head()).toBe(head);
    expect(await opIds(a)).toEqual(['op-1']);
  });

  it('still validates a replay before looking at the stored answer', async () => {
    await push(server, a, [textOp('op-1', 'a.md', 'a')], { idempotency_key: 'key-1' });
    const bad = { ...textOp('op-1', 'a.md', 'a'), payload_json: '{not json' };
    const res = await push(server, a, [bad], { idempotency_key: 'key-1' });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('invalid_payload');
  });

  it('is shared by the devices of one vault and independent in another vault or for another user', async () => {
    const first = await push(server, a, [textOp('op-1', 'a.md', 'a')], {
      idempotency_key: 'shared',
    });
    // Another device of the same vault retrying the same request gets the same answer.
    const sameVault = await push(server, b, [textOp('op-1', 'a.md', 'a')], {
      idempotency_key: 'shared',
    });
    expect(sameVault.body).toBe(first.body);

    const otherVault = await pair(server, 'alice', 'vault-2');
    const bob = await pair(server, 'bob', 'vault-1');
    for (const device of [otherVault, bob]) {
      const own = await push(server, device, [textOp(`own-${device.deviceId}`, 'x.md', 'x')], {
        idempotency_key: 'shared',
      });
      expect(own.statusCode).toBe(200);
      expect(own.json()).toEqual({
        accepted: [`own-${device.deviceId}`],
        count: 1,
        conflicts: [],
        rejected: [],
      });
      expect(await opIds(device)).toEqual([`own-${device.deviceId}`]);
    }
    // Each scope replays its own answer.
    const bobRetry = await push(server, bob, [textOp(`own-${bob.deviceId}`, 'x.md', 'x')], {
      idempotency_key: 'shared',
    });
    expect(bobRetry.json().accepted).toEqual([`own-${bob.deviceId}`]);
    expect(await opIds(a)).toEqual(['op-1']);
  });

  it('expires after retention.idempotency_hours, after which the key is processed anew', async () => {
    expect(server.runtime.config.retention.idempotency_hours).toBe(24);
    await push(server, a, [textOp('op-1', 'a.md', 'a')], { idempotency_key: 'key-1' });
    clock.advance(23 * HOUR);
    const stillKept = await push(server, a, [textOp('op-2', 'b.md', 'b')], {
      idempotency_key: 'key-1',
    });
    expect(stillKept.statusCode).toBe(422);

    clock.advance(2 * HOUR);
    const head = server.runtime.store.head();
    const anew = await push(server, a, [textOp('op-2', 'b.md', 'b')], { idempotency_key: 'key-1' });
    expect(anew.statusCode).toBe(200);
    expect(anew.json()).toEqual({ accepted: ['op-2'], count: 1, conflicts: [], rejected: [] });
    expect(await opIds(a)).toEqual(['op-1', 'op-2']);
    expect(server.runtime.store.head()).toBe(head + 2); // the op and the new stored answer

    // The new answer is the one kept now.
    const replay = await push(server, a, [textOp('op-2', 'b.md', 'b')], {
      idempotency_key: 'key-1',
    });
    expect(replay.body).toBe(anew.body);
    const changed = await push(server, a, [textOp('op-1', 'a.md', 'a')], {
      idempotency_key: 'key-1',
    });
    expect(changed.statusCode).toBe(422);
  });

  it('answers an exact retry after expiry like any retry: acknowledged, not stored twice', async () => {
    const ops = [textOp('op-1', 'a.md', 'a')];
    const first = await push(server, a, ops, { idempotency_key: 'key-1' });
    clock.advance(25 * HOUR);
    const again = await push(server, a, ops, { idempotency_key: 'key-1' });
    expect(again.body).toBe(first.body);
    expect(await opIds(a)).toEqual(['op-1']);
  });
});
