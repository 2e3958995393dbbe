import { request as httpRequest } from 'node:http';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addUser, makeDataDir, removeTempDirs } from '../cli/helpers.js';
import { ensureBuilt } from '../helpers/build.js';
import { exitWithin, startServer, waitForHealth, type ServerProcess } from '../helpers/server.js';

// Issue 10: SIGTERM ends the open event streams and waiting pulls, and the server still
// exits 0 (RELIABILITY.md R7): a long-lived answer must not hold the shutdown up.

const PASSWORD = 'correct horse battery';

let servers: ServerProcess[] = [];
afterEach(async () => {
  for (const server of servers) {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  }
  servers = [];
  removeTempDirs();
});

async function pairOver(port: number, vault: string) {
  const res = await fetch(`http://127.0.0.1:${port}/api/client/pair`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer ' },
    body: JSON.stringify({
      login: 'alice',
      password: PASSWORD,
      device_name: 'laptop',
      client_version: 'verstak-desktop/v2',
      vault_id: vault,
    }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { device_token: string }).device_token;
}

/** An event stream on a keep-alive socket; resolves once its answer has begun. */
function openStream(port: number, token: string) {
  return new Promise<{ ended: Promise<string> }>((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path: '/api/v1/sync/events',
      headers: { authorization: `Bearer ${token}` },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      expect(res.statusCode).toBe(200);
      let text = '';
      res.setEncoding('utf8');
      const ended = new Promise<string>((done) => res.on('close', () => done(text)));
      res.once('data', (chunk: string) => {
        text += chunk;
        res.on('data', (more: string) => (text += more));
        resolve({ ended });
      });
    });
    req.end();
  });
}

describe('a server with open event streams and waiting pulls', () => {
  beforeAll(ensureBuilt, 180_000);

  it('ends them on SIGTERM and exits 0', async () => {
    const dataDir = makeDataDir();
    await addUser(dataDir, 'alice', PASSWORD);
    const server = await startServer(['--data', dataDir]);
    servers.push(server);
    await waitForHealth(server);
    const token = await pairOver(server.port, 'notes');
    const streams = await Promise.all([1, 2, 3].map(() => openStream(server.port, token)));
    const waiting = fetch(`http://127.0.0.1:${server.port}/api/v1/sync/pull`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ since_sequence: 0, wait_ms: 30_000 }),
    });
    // The pull is waiting (its first sync is an empty vault) when the signal comes.
    await new Promise((r) => setTimeout(r, 300));

    server.child.kill('SIGTERM');
    // Hang detectors, not timing assertions: R7 allows 10 s for a clean stop.
    expect(await exitWithin(server, 10_000)).toEqual({ code: 0, signal: null });
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ ops: [], has_more: false });
    for (const s of streams) expect(await s.ended).toMatch(/^: connected\n\n/);
    expect(server.stderr()).toBe('');
  });
});
