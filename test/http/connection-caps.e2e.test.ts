import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/sync-app.js';
import { get, openConnection, type RawConnection } from './raw-connection.js';

// Low caps, so that a few dozen loopback sockets reach them. Every 127/8 address is a
// client of its own on Linux loopback, which stands in for distinct hosts.
const PER_CLIENT = 4;
const TOTAL = 10;
// A flood from one address, bounded: the server may keep at most the cap plus a few
// connections it holds to answer 503.
const FLOOD = 200;

let server: TestServer | undefined;
const connections: RawConnection[] = [];

afterEach(async () => {
  for (const c of connections.splice(0)) c.socket.destroy();
  await server?.close();
  server = undefined;
});

async function listening(trusted: string[] = []) {
  server = await startTestServer({
    databaseFile: ':memory:',
    limits: { max_connections: TOTAL, max_connections_per_client: PER_CLIENT },
    settings: { trusted_proxies: trusted },
  });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  return (server.app.server.address() as AddressInfo).port;
}

async function open(port: number, from: string) {
  const c = await openConnection(port, from);
  connections.push(c);
  return c;
}

/** Opens `n` connections from `from`, each answered once and then kept alive, idle. */
async function idleKeepAlive(port: number, from: string, n: number) {
  const opened: RawConnection[] = [];
  for (let i = 0; i < n; i++) {
    const c = await open(port, from);
    expect((await get(c, '/livez'))?.status).toBe(200);
    opened.push(c);
  }
  return opened;
}

const openOnServer = () =>
  new Promise<number>((resolve, reject) =>
    server!.app.server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  );

const refusalOf = async (c: RawConnection) => {
  const answer = await get(c, '/livez');
  return {
    status: answer?.status,
    retryAfter: answer?.headers['retry-after'],
    connection: answer?.headers['connection'],
    requestId: typeof answer?.headers['x-request-id'],
    body: answer ? (JSON.parse(answer.body) as unknown) : undefined,
  };
};

const REFUSED = {
  status: 503,
  retryAfter: '5',
  connection: 'close',
  requestId: 'string',
  body: { error: expect.any(String), code: 'too_many_connections' },
};

describe('the per-client connection cap', () => {
  it('answers 503 too_many_connections past it, counting idle keep-alive connections', async () => {
    const port = await listening();
    await idleKeepAlive(port, '127.0.0.1', PER_CLIENT);
    const extra = await open(port, '127.0.0.1');
    expect(await refusalOf(extra)).toEqual(REFUSED);
    await extra.closed;
    // Another client is not affected.
    const other = await open(port, '127.0.0.2');
    expect((await get(other, '/livez'))?.status).toBe(200);
  });

  it('admits the client again once one of its connections has closed', async () => {
    const port = await listening();
    const [first] = await idleKeepAlive(port, '127.0.0.1', PER_CLIENT);
    first!.socket.destroy();
    await first!.closed;
    await expect
      .poll(async () => (await get(await open(port, '127.0.0.1'), '/livez'))?.status, {
        timeout: 5_000,
      })
      .toBe(200);
  });

  it('holds a flood from one address to the cap plus a few refusals', async () => {
    const port = await listening();
    const flood = await Promise.all(
      Array.from({ length: FLOOD }, () => open(port, '127.0.0.3').catch(() => undefined)),
    );
    // Whatever the server kept, it kept for one client: the cap and the refusals it answers.
    await expect.poll(openOnServer, { timeout: 5_000 }).toBeLessThanOrEqual(PER_CLIENT + 4);
    // And the flood's own sockets see the rest closed.
    const alive = () => flood.filter((c) => c !== undefined && !c.socket.destroyed).length;
    await expect.poll(alive, { timeout: 5_000 }).toBeLessThanOrEqual(PER_CLIENT + 4);
    expect(alive()).toBeGreaterThanOrEqual(PER_CLIENT);
    // The same client's next connection is refused; another client is served.
    const next = await get(await open(port, '127.0.0.3'), '/livez');
    expect([undefined, 503]).toContain(next?.status);
    const other = await open(port, '127.0.0.4');
    expect((await get(other, '/livez'))?.status).toBe(200);
  });
});

describe('the total connection cap', () => {
  it('answers 503 too_many_connections once all clients together reach it', async () => {
    const port = await listening();
    await idleKeepAlive(port, '127.0.0.1', PER_CLIENT);
    await idleKeepAlive(port, '127.0.0.2', PER_CLIENT);
    await idleKeepAlive(port, '127.0.0.3', TOTAL - 2 * PER_CLIENT);
    expect(await refusalOf(await open(port, '127.0.0.4'))).toEqual(REFUSED);
  });

  it('is the only cap for a trusted proxy, which relays many clients', async () => {
    const port = await listening(['127.0.0.5']);
    await idleKeepAlive(port, '127.0.0.5', TOTAL);
    expect(await refusalOf(await open(port, '127.0.0.5'))).toEqual(REFUSED);
  });
});
