import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/build.js';
import { startServer, waitForHealth, type ServerProcess } from '../helpers/server.js';
import { get, openConnection, type RawConnection } from './raw-connection.js';

// The same edges as header-timeout and connection-caps, through the `serve` command that
// operators run: its own timeouts and config.yml must reach the listening server.
const HEADERS_MS = 1_500;
const PER_CLIENT = 3;

let dir: string;
let server: ServerProcess;
const connections: RawConnection[] = [];

beforeAll(async () => {
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'verstak-edges-'));
  writeFileSync(
    join(dir, 'config.yml'),
    `timeouts:\n  headers_ms: ${HEADERS_MS}\nlimits:\n  max_connections_per_client: ${PER_CLIENT}\n`,
  );
  server = await startServer(['--data', dir]);
  await waitForHealth(server);
}, 180_000);

afterAll(async () => {
  for (const c of connections) c.socket.destroy();
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

// The health poll's own keep-alive connection comes from 127.0.0.1: these use others.
async function open(from: string) {
  const c = await openConnection(server.port, from);
  connections.push(c);
  return c;
}

describe('serve', () => {
  it('cuts a client trickling its headers near timeouts.headers_ms', async () => {
    const started = Date.now();
    const c = await open('127.0.0.2');
    c.socket.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const trickle = setInterval(() => c.socket.destroyed || c.socket.write('a'), 200);
    const giveUp = setTimeout(() => c.socket.destroy(), HEADERS_MS + 10_000);
    const { at } = await c.closed;
    clearInterval(trickle);
    clearTimeout(giveUp);
    expect(at - started).toBeGreaterThanOrEqual(HEADERS_MS - 100);
    expect(at - started).toBeLessThan(HEADERS_MS + 2_500);
  });

  it('answers 503 too_many_connections past limits.max_connections_per_client', async () => {
    for (let i = 0; i < PER_CLIENT; i++) {
      expect((await get(await open('127.0.0.3'), '/livez'))?.status).toBe(200);
    }
    const refused = await get(await open('127.0.0.3'), '/livez');
    expect(refused?.status).toBe(503);
    expect(JSON.parse(refused!.body)).toEqual({
      error: expect.any(String),
      code: 'too_many_connections',
    });
    expect(refused?.headers['retry-after']).toBe('5');
  });
});
