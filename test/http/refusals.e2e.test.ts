import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { openDatabase } from '../../src/log/index.js';
import { openRuntime } from '../../src/runtime.js';
import { testHasher } from '../helpers/runtime.js';
import { WebClient } from '../web/browser-client.js';

// Failed sign-ins, failed device authentications and rate-limit refusals reach the audit
// as one SecurityRefusalsCounted per kind and 5-minute window, never one event per attempt.

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

async function openServer() {
  const dir = mkdtempSync(join(tmpdir(), 'vss-refusals-'));
  dirs.push(dir);
  const clock = createManualClock('2026-12-04T10:00:10.000Z');
  const config = {
    ...loadConfig(dir),
    admin: [{ username: 'root', password_hash: 'test$admin password' }],
  };
  const runtime = openRuntime({ dataDir: dir, config, clock, hasher: testHasher });
  const app = await buildApp({ ...runtime, logger: false });
  return { dir, clock, runtime, app };
}

type Server = Awaited<ReturnType<typeof openServer>>;

const head = (s: Server) => s.runtime.store.head();

const failLogin = (s: Server, username: string, remoteAddress: string) =>
  s.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    remoteAddress,
    payload: { username, password: 'wrong password!' },
  });

const badToken = (s: Server, token: string, remoteAddress: string) =>
  s.app.inject({
    method: 'POST',
    url: '/api/v1/sync/pull',
    remoteAddress,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    payload: { since_sequence: 0 },
  });

interface Summary {
  kind: string;
  windowStart: string;
  windowEnd: string;
  count: number;
  reasons: { reason: string; count: number }[];
  sources: { ip: string; count: number }[];
  targets: { key: string; count: number }[];
}

describe('refused attempts', () => {
  it('grow the log by one summary per kind and window, whose counts add up', async () => {
    const s = await openServer();
    for (const username of ['alice', 'bob']) {
      await s.runtime.users.register(
        {
          username,
          email: `${username}@example.test`,
          password: 'right password',
          confirmed: true,
        },
        'operator',
        { actor: 'test' },
      );
    }
    const before = head(s);
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

    // Two windows of 500 failed logins each, each from its own address and, but for ten
    // wrong passwords of a real account, its own name: none past a rate limit.
    for (const window of [0, 1]) {
      for (let i = 0; i < 500; i++) {
        const name = i < 10 ? ['alice', 'bob'][window]! : `nobody${window}-${i}@example.test`;
        const res = await failLogin(s, name, `10.${window}.${i % 50}.${Math.floor(i / 50)}`);
        count(res.statusCode);
      }
      for (let i = 0; i < 500; i++) {
        const token = i % 100 === 0 ? '' : `${window}${i}`.padStart(64, 'f');
        count((await badToken(s, token, `10.9.${window}.${i % 20}`)).statusCode);
      }
      if (window === 0) {
        // One address hammering the login: 10 reach the password check, 15 are refused.
        for (let i = 0; i < 25; i++) count((await failLogin(s, 'hammer', '10.8.0.1')).statusCode);
        const admin = new WebClient(s.app, {}, '10.7.0.1');
        for (let i = 0; i < 3; i++) {
          await admin.submit('/admin/login', '/admin/login', { username: 'root', password: 'no' });
        }
        // Requests are answered without touching the log; the window is still open.
        expect(head(s)).toBe(before);
        expect(s.runtime.refusals.flushClosed()).toBe(0);
        s.clock.advance(5 * 60_000);
        expect(s.runtime.refusals.flushClosed()).toBe(4);
      }
    }
    expect(statuses.get(401)).toBe(500 * 2 + 500 * 2 + 10);
    expect(statuses.get(429)).toBe(15);
    expect(s.runtime.refusals.pending).toBe(1000);

    await s.app.close();
    s.runtime.close();

    const db = openDatabase(join(s.dir, 'server.db'), { readonly: true });
    const rows = db
      .prepare('SELECT type, data FROM events WHERE seq > ? ORDER BY seq')
      .all(before) as { type: string; data: string }[];
    const everything = db.prepare('SELECT group_concat(data) FROM events').pluck().get() as string;
    db.close();
    expect(rows.every((r) => r.type === 'SecurityRefusalsCounted')).toBe(true);
    const summaries = rows.map((r) => JSON.parse(r.data) as Summary);
    // 4 kinds in the first window, 2 in the second: at most kinds × windows.
    expect(summaries.length).toBe(6);
    const total = (kind: string) =>
      summaries.filter((x) => x.kind === kind).reduce((n, x) => n + x.count, 0);
    expect(total('user_login')).toBe(1000 + 10);
    expect(total('device_auth')).toBe(1000);
    expect(total('rate_limit')).toBe(15);
    expect(total('admin_login')).toBe(3);
    for (const x of summaries) {
      expect(x.sources.length).toBeLessThanOrEqual(10);
      expect(x.targets.length).toBeLessThanOrEqual(10);
      expect(x.reasons.reduce((n, r) => n + r.count, 0)).toBe(x.count);
      expect(x.sources.reduce((n, r) => n + r.count, 0)).toBeLessThanOrEqual(x.count);
    }
    const first = summaries.find((x) => x.kind === 'user_login')!;
    expect(first.windowStart).toBe('2026-12-04T10:00:00.000Z');
    expect(first.windowEnd).toBe('2026-12-04T10:05:00.000Z');
    expect(first.sources[0]).toEqual({ ip: '10.8.0.1', count: 10 });
    expect(first.reasons).toEqual([
      { reason: 'unknown_login', count: 500 },
      { reason: 'wrong_password', count: 10 },
    ]);
    expect(first.targets.slice(0, 2)).toEqual([
      { key: expect.stringMatching(/^typed:[0-9a-f]{16}$/), count: 10 },
      { key: expect.stringMatching(/^user:[0-9a-f]{24}$/), count: 10 },
    ]);
    const devices = summaries.find((x) => x.kind === 'device_auth')!;
    expect(devices.reasons).toEqual([
      { reason: 'invalid_token', count: 495 },
      { reason: 'missing_token', count: 5 },
    ]);
    // Flushed at close: the second window was still open.
    const last = summaries[summaries.length - 1]!;
    expect(last.windowStart).toBe('2026-12-04T10:05:00.000Z');
    expect(last.windowEnd).toBe('2026-12-04T10:05:10.000Z');
    // What was typed never reaches the log, not even for unknown names.
    expect(everything).not.toContain('nobody');
    expect(everything).not.toContain('hammer');
  });
});
