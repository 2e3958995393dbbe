import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addUser,
  call,
  pair,
  pull,
  pullAll,
  push,
  startTestServer,
  textOp,
  type PullPage,
  type TestServer,
} from '../helpers/sync-app.js';

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer();
  await addUser(server, 'alice');
});
afterEach(async () => server.close());

describe('the desktop lifecycle', () => {
  it('pairs, identifies, pushes, pulls, revokes and is then refused', async () => {
    const device = await pair(server, 'alice', 'vault-1');
    const me = await call(server, device, { method: 'GET', url: '/api/client/me' });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({
      device_id: device.deviceId,
      device_name: 'laptop',
      revoked_at: '',
    });

    const pushed = await push(server, device, [textOp('op-1', 'notes/a.md', 'hello')]);
    expect(pushed.statusCode).toBe(200);
    expect(pushed.json()).toEqual({ accepted: ['op-1'], count: 1, conflicts: [], rejected: [] });

    const page = (await pull(server, device, 0)).json<PullPage>();
    expect(page.ops).toHaveLength(1);
    expect(page.ops[0]).toEqual({
      op_id: 'op-1',
      server_sequence: page.ops[0]!.server_sequence,
      device_id: device.deviceId,
      entity_type: 'file',
      entity_id: 'notes/a.md',
      op_type: 'update',
      payload_json: JSON.stringify({ path: 'notes/a.md', content: 'hello' }),
      created_at: '2026-11-26T10:00:00Z',
    });
    expect(page.server_sequence).toBe(page.ops[0]!.server_sequence);
    expect(page.page_last_sequence).toBe(page.ops[0]!.server_sequence);
    expect(page.has_more).toBe(false);

    const empty = (await pull(server, device, page.page_last_sequence)).json<PullPage>();
    expect(empty).toEqual({
      server_sequence: page.server_sequence,
      page_last_sequence: page.page_last_sequence,
      has_more: false,
      ops: [],
    });

    const revoked = await call(server, device, {
      method: 'POST',
      url: '/api/client/revoke-current',
      headers: { 'content-type': 'application/json' },
    });
    expect(revoked.json()).toEqual({ status: 'revoked' });
    for (const url of ['/api/v1/sync/pull', '/api/v1/sync/push', '/api/client/revoke-current']) {
      const res = await call(server, device, { method: 'POST', url, payload: {} });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: 'device revoked', code: 'unauthorized' });
    }
    expect((await call(server, device, { method: 'GET', url: '/api/client/me' })).statusCode).toBe(
      401,
    );
  });

  it('acknowledges a retried push without storing it twice', async () => {
    const device = await pair(server, 'alice', 'vault-1');
    const op = textOp('op-1', 'a.md', 'x');
    await push(server, device, [op]);
    const head = server.runtime.store.head();
    const retry = await push(server, device, [{ ...op, client_sequence: 9, created_at: 'later' }]);
    expect(retry.json()).toEqual({ accepted: ['op-1'], count: 1, conflicts: [], rejected: [] });
    expect(server.runtime.store.head()).toBe(head);
    const changed = await push(server, device, [
      textOp('op-1', 'a.md', 'different'),
      textOp('op-2', 'b.md', 'y'),
    ]);
    expect(changed.json()).toMatchObject({ accepted: ['op-2'], count: 1 });
    expect(changed.json().rejected).toEqual([{ op_id: 'op-1', reason: expect.any(String) }]);
    expect((await pullAll(server, device)).ops.map((o) => o.op_id)).toEqual(['op-1', 'op-2']);
  });

  it('pages a 250-op backlog with has_more', async () => {
    const device = await pair(server, 'alice', 'vault-1');
    const ops = Array.from({ length: 250 }, (_, i) => textOp(`op-${i}`, `n/${i}.md`, `c${i}`));
    for (let i = 0; i < 250; i += 100) {
      expect((await push(server, device, ops.slice(i, i + 100))).json().count).toBe(
        Math.min(100, 250 - i),
      );
    }
    const first = (await pull(server, device, 0)).json<PullPage>();
    expect(first.ops).toHaveLength(100);
    expect(first.has_more).toBe(true);
    const all = await pullAll(server, device);
    expect(all.ops.map((o) => o.op_id)).toEqual(ops.map((o) => o.op_id));
    const big = await pullAll(server, device, 0, 1000);
    expect(big.ops).toHaveLength(250);
  });

  it('answers 409 cursor_ahead for a cursor beyond the log', async () => {
    const device = await pair(server, 'alice', 'vault-1');
    const res = await pull(server, device, server.runtime.store.head() + 1);
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('cursor_ahead');
  });
});
