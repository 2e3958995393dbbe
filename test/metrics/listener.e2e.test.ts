import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  exitWithin,
  freePort,
  startServer,
  waitForHealth,
  type ServerProcess,
} from '../helpers/server.js';
import { sample } from './exposition.js';

// The built server (npm run build) as an operator runs it: metrics on an address of their
// own, or on the public listener behind config.yml's token.

const TOKEN = 'scrape-token-0123456789abcdef';

let dirs: string[] = [];
let servers: ServerProcess[] = [];
afterEach(async () => {
  for (const s of servers) {
    if (s.child.exitCode === null) {
      s.child.kill('SIGKILL');
      await s.exited;
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  servers = [];
  dirs = [];
});

function dataDir(config?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'vss-metrics-listen-'));
  dirs.push(dir);
  if (config) writeFileSync(join(dir, 'config.yml'), config);
  return dir;
}

async function start(args: string[], env: Record<string, string> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const server = await startServer(args);
    servers.push(server);
    return server;
  } finally {
    for (const key of Object.keys(env)) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

const get = (port: number, path: string, headers: Record<string, string> = {}) =>
  fetch(`http://127.0.0.1:${port}${path}`, { headers });

describe('serve --metrics-listen', () => {
  it('serves /metrics there only, times the public answers, and stops with the server', async () => {
    const metricsPort = await freePort();
    const server = await start([
      '--data',
      dataDir(),
      '--metrics-listen',
      `127.0.0.1:${metricsPort}`,
    ]);
    await waitForHealth(server);

    const onPublic = await get(server.port, '/metrics');
    expect(onPublic.status).toBe(404);
    expect(await onPublic.text()).not.toContain('verstak_');

    const res = await get(metricsPort, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const health = { method: 'GET', route: '/api/v1/health', status: '200' };
    expect(sample(text, 'verstak_http_request_duration_seconds_count', health)).toBeGreaterThan(0);
    expect(sample(text, 'verstak_log_head')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'verstak_wal_bytes')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'verstak_mail_outbox_pending', { state: 'new' })).toBe(0);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);

    const other = await get(metricsPort, '/api/v1/health');
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: 'not found', code: 'not_found' });
    const post = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);

    server.child.kill('SIGTERM');
    expect(await exitWithin(server, 15_000)).toEqual({ code: 0, signal: null });
    await expect(get(metricsPort, '/metrics')).rejects.toThrow();
  });

  it('takes the address from VERSTAK_METRICS_LISTEN and the token from config.yml', async () => {
    const metricsPort = await freePort();
    const server = await start(['--data', dataDir(`metrics:\n  token: ${TOKEN}\n`)], {
      VERSTAK_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
    });
    await waitForHealth(server);
    const bearer = { authorization: `Bearer ${TOKEN}` };
    for (const port of [metricsPort, server.port]) {
      const refused = await get(port, '/metrics');
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ code: 'unauthorized' });
      const wrong = await get(port, '/metrics', { authorization: `Bearer ${TOKEN}-` });
      expect(wrong.status).toBe(401);
      const ok = await get(port, '/metrics', bearer);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('verstak_push_ops_total');
    }
  });

  it('refuses to start on a malformed address, naming the option', async () => {
    const server = await start(['--data', dataDir(), '--metrics-listen', 'nowhere']);
    expect((await exitWithin(server, 15_000)) as unknown).toEqual({ code: 1, signal: null });
    expect(server.stderr()).toContain('--metrics-listen');
  });

  it('exits 1 with the cause when the metrics address is taken', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const server = await start(['--data', dataDir(), '--metrics-listen', `127.0.0.1:${port}`]);
      expect((await exitWithin(server, 15_000)) as unknown).toEqual({ code: 1, signal: null });
      expect(server.stderr()).toMatch(/cannot serve metrics on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      taken.close();
    }
  });
});
