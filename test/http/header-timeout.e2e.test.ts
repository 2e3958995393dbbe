import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config.js';
import { startTestServer, type TestServer } from '../helpers/sync-app.js';
import { answerAfter, get, openConnection } from './raw-connection.js';

// Node looks for slow headers on its own 30 s interval unless the server is created with
// a shorter one: a bound of 1.5 s used to be applied anywhere up to 31.5 s after connect.
const HEADERS_MS = 1_500;
// The cut must come within about a second of the bound; the rest is slack for a busy
// machine (two cores shared with other suites).
const LATE_BY_AT_MOST_MS = 2_500;
const TRICKLE_MS = 200;

let server: TestServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function listening() {
  const defaults = ConfigSchema.parse({});
  server = await startTestServer({
    databaseFile: ':memory:',
    settings: { timeouts: { ...defaults.timeouts, headers_ms: HEADERS_MS } },
  });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  return (server.app.server.address() as AddressInfo).port;
}

describe('timeouts.headers_ms over a real connection', () => {
  it('cuts a client that trickles its headers near the configured time', async () => {
    const port = await listening();
    const started = Date.now();
    const connection = await openConnection(port);
    connection.socket.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    // One byte at a time, never finishing: an idle timer alone never fires.
    const trickle = setInterval(() => {
      if (!connection.socket.destroyed) connection.socket.write('a');
    }, TRICKLE_MS);
    const giveUp = setTimeout(() => connection.socket.destroy(), HEADERS_MS + 10_000);
    const { at } = await connection.closed;
    clearInterval(trickle);
    clearTimeout(giveUp);
    const elapsed = at - started;
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_MS - 100);
    expect(elapsed).toBeLessThan(HEADERS_MS + LATE_BY_AT_MOST_MS);
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts a connection that sends nothing at all, as late as a slow one', async () => {
    const port = await listening();
    const started = Date.now();
    const connection = await openConnection(port);
    const giveUp = setTimeout(() => connection.socket.destroy(), HEADERS_MS + 10_000);
    const { at } = await connection.closed;
    clearTimeout(giveUp);
    expect(at - started).toBeLessThan(HEADERS_MS + LATE_BY_AT_MOST_MS);
  });

  it('leaves a client that sends its headers in time, and its keep-alive connection, alone', async () => {
    const port = await listening();
    const connection = await openConnection(port);
    // Headers split over a second, inside the bound.
    connection.socket.write('GET /livez HTTP/1.1\r\n');
    await new Promise((r) => setTimeout(r, HEADERS_MS / 2));
    connection.socket.write('Host: 127.0.0.1\r\n\r\n');
    expect((await answerAfter(connection, 0))?.status).toBe(200);
    // Idle between requests for longer than the headers bound: keep-alive governs, not it.
    await new Promise((r) => setTimeout(r, HEADERS_MS + 1_000));
    expect(connection.socket.destroyed).toBe(false);
    expect((await get(connection, '/livez'))?.status).toBe(200);
    connection.socket.destroy();
  });
});
