import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectSecurityHeaders } from '../helpers/app.js';
import {
  addUser,
  pair,
  pull,
  push,
  startTestServer,
  textOp,
  type PullPage,
  type TestServer,
} from '../helpers/sync-app.js';

// CONTRACT.md §2 and §4.7: the bytes of a pull answer, and the cursor check against the log.

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer();
  await addUser(server, 'alice');
});
afterEach(async () => server.close());

describe('a pull answer', () => {
  it('is one JSON line with the contract headers, paging fields first', async () => {
    const device = await pair(server, 'alice', 'vault-1');
    await push(server, device, [textOp('op-1', 'a.md', 'x'), textOp('op-2', 'b.md', 'y')]);
    const res = await pull(server, device, 0, 1);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
    expectSecurityHeaders(res.headers);
    expect(res.body.endsWith('}\n')).toBe(true);
    expect(res.body.indexOf('\n')).toBe(res.body.length - 1);
    const page = res.json<PullPage>();
    expect(Object.keys(page)).toEqual(['server_sequence', 'page_last_sequence', 'has_more', 'ops']);
    expect(page).toMatchObject({
      page_last_sequence: page.ops[0]!.server_sequence,
      has_more: true,
    });
    expect(page.server_sequence).toBe(page.ops[0]!.server_sequence + 1);
  });

  it('gives an empty page for a cursor past the vault but not past the log', async () => {
    const quiet = await pair(server, 'alice', 'vault-quiet');
    const busy = await pair(server, 'alice', 'vault-busy');
    await push(server, quiet, [textOp('q-1', 'q.md', 'x')]);
    await push(server, busy, [textOp('b-1', 'a.md', 'x'), textOp('b-2', 'b.md', 'y')]);
    const quietHead = (await pull(server, quiet, 0)).json<PullPage>().server_sequence;
    const cursor = server.runtime.store.head();
    expect(cursor).toBeGreaterThan(quietHead);
    const res = await pull(server, quiet, cursor);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      server_sequence: quietHead,
      page_last_sequence: cursor,
      has_more: false,
      ops: [],
    });
    const ahead = await pull(server, quiet, cursor + 1);
    expect([ahead.statusCode, ahead.json().code]).toEqual([409, 'cursor_ahead']);
    expectSecurityHeaders(ahead.headers);
  });
});
