import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { memoryLogger } from '../helpers/app.js';
import { testHasher } from '../helpers/runtime.js';
import { WebClient } from '../web/browser-client.js';

// Issue 12: brute-force limits that one client could erase. Over the real app: a flood of
// cheap requests from one address, aliases and actions, IPv6 /64s and a restart must not
// hand an attacker a fresh budget against an account.

const MINUTE = 60_000;
const PASSWORD = 'right password 1';
const ATTACKER = '203.0.113.7';

let dirs: string[] = [];
let closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closing) await close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  closing = [];
  dirs = [];
});

interface Server {
  readonly dir: string;
  readonly runtime: Runtime;
  readonly app: FastifyInstance;
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

const clock = () => createManualClock('2026-12-04T10:00:00.000Z');

/** The server over `dir` (a new one when absent), as `serve` builds it, with a fast hasher. */
async function start(c: ReturnType<typeof clock>, dir?: string): Promise<Server> {
  const dataDir = dir ?? mkdtempSync(join(tmpdir(), 'vss-brute-'));
  if (!dir) dirs.push(dataDir);
  const config = {
    ...loadConfig(dataDir),
    admin: [{ username: 'root', password_hash: `test$${PASSWORD}` }],
  };
  const runtime = openRuntime({ dataDir, config, clock: c, hasher: testHasher });
  const { logger, lines } = memoryLogger();
  const app = await buildApp({ ...runtime, logger });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    runtime.close();
  };
  closing.push(close);
  return { dir: dataDir, runtime, app, logs: lines, close };
}

async function addAlice(s: Server) {
  await s.runtime.users.register(
    { username: 'alice', email: 'alice@example.test', password: PASSWORD, confirmed: true },
    'operator',
    { actor: 'test' },
  );
}

const login = (s: Server, username: string, password: string, remoteAddress: string) =>
  s.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    remoteAddress,
    payload: { username, password },
  });

const pair = (s: Server, login: string, password: string, remoteAddress: string) =>
  s.app.inject({
    method: 'POST',
    url: '/api/client/pair',
    remoteAddress,
    payload: { login, password, device_name: 'laptop', client_version: 'v2', vault_id: 'v' },
  });

const authTest = (s: Server, username: string, password: string, remoteAddress: string) =>
  s.app.inject({
    method: 'POST',
    url: '/api/auth/test',
    remoteAddress,
    payload: { username, password },
  });

const deviceRegister = (s: Server, username: string, password: string, remoteAddress: string) =>
  s.app.inject({
    method: 'POST',
    url: '/api/v1/device/register',
    remoteAddress,
    payload: { name: 'laptop', username, password, vault_id: 'v' },
  });

describe('brute-force limits (issue 12)', () => {
  it('a flood of cheap requests from one address does not restart its guessing', async () => {
    const s = await start(clock());
    await addAlice(s);
    const checked = { alice: 0 };
    const statuses = new Map<number, number>();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 10; i++) {
        const res = await login(s, 'alice', `guess ${round}-${i}`, ATTACKER);
        if (res.statusCode === 401) checked.alice += 1;
        else expect(res.statusCode).toBe(429);
      }
      // 10,001 cheap requests, each with a new name: the old table of 10,000 entries evicted
      // both this address's entry and the victim's.
      for (let i = 0; i < 10_001; i++) {
        const res = await login(s, `filler-${round}-${i}`, 'x', ATTACKER);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      }
    }
    expect(checked.alice).toBe(10);
    expect(statuses.get(429)).toBe(20_002);
    // The right password does not get in, from this address or any other, until her
    // account's budget frees up (15 minutes after the first of its ten failures).
    for (const ip of [ATTACKER, '198.51.100.20']) {
      const res = await login(s, 'alice', PASSWORD, ip);
      expect(res.statusCode).toBe(429);
      expect(res.json()).toEqual({ error: 'too many attempts', code: 'rate_limited' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // No line per refused request: one summary when the app closes.
    const rateLines = () => s.logs.filter((l) => String(l.msg).includes('rate limit'));
    expect(rateLines()).toHaveLength(0);
    await s.close();
    expect(rateLines()).toHaveLength(1);
    expect(rateLines()[0]).toMatchObject({
      msg: 'rate limits refused requests',
      rateLimits: { refused: { 'client:login': 20_013, 'account:login': 1 }, lockouts: 2 },
    });
  });

  it('spends one budget per account across actions and aliases, from any address', async () => {
    const c = clock();
    const s = await start(c);
    await addAlice(s);
    const tries = [
      (ip: string) => login(s, 'alice', 'wrong 1', ip),
      (ip: string) => login(s, 'ALICE@example.test', 'wrong 2', ip),
      (ip: string) => pair(s, ' Alice ', 'wrong 3', ip),
      (ip: string) => pair(s, 'alice@example.test', 'wrong 4', ip),
      (ip: string) => authTest(s, 'alice', 'wrong 5', ip),
      (ip: string) => deviceRegister(s, 'alice@EXAMPLE.test', 'wrong 6', ip),
    ];
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await tries[i % tries.length]!(`10.1.0.${i}`)).statusCode);
    expect(statuses).toEqual(Array(10).fill(401));
    for (const [i, attempt] of tries.entries()) {
      expect((await attempt(`10.2.0.${i}`)).statusCode).toBe(429);
    }
    for (const right of [
      login(s, 'alice@example.test', PASSWORD, '10.3.0.1'),
      pair(s, 'alice', PASSWORD, '10.3.0.2'),
      authTest(s, 'alice', PASSWORD, '10.3.0.3'),
    ]) {
      expect((await right).statusCode).toBe(429);
    }
    // The web sign-in answers with its own 429 page.
    const browser = new WebClient(s.app, {}, '10.3.0.4');
    const page = await browser.submit('/login', '/login', {
      username: 'alice',
      password: PASSWORD,
    });
    expect(page.statusCode).toBe(429);
    c.advance(15 * MINUTE);
    expect((await login(s, 'alice', PASSWORD, '10.3.0.5')).statusCode).toBe(200);
  });

  it("limits the admin's name the same way, across a restart", async () => {
    const c = clock();
    const first = await start(c);
    for (let i = 0; i < 10; i++) {
      const admin = new WebClient(first.app, {}, `10.4.0.${i}`);
      const res = await admin.submit('/admin/login', '/admin/login', {
        username: 'root',
        password: `wrong ${i}`,
      });
      expect(res.statusCode).toBe(401);
    }
    await first.close();
    const s = await start(c, first.dir);
    const signIn = () =>
      new WebClient(s.app, {}, '10.4.1.1').submit('/admin/login', '/admin/login', {
        username: 'root',
        password: PASSWORD,
      });
    expect((await signIn()).statusCode).toBe(429);
    c.advance(15 * MINUTE);
    expect((await signIn()).statusCode).toBe(303);
  });

  it('counts an IPv6 /64 as one client', async () => {
    const s = await start(clock());
    for (let i = 1; i <= 10; i++) {
      const res = await login(s, `nobody${i}`, 'x', `2001:db8:0:1::${i.toString(16)}`);
      expect(res.statusCode).toBe(401);
    }
    expect((await login(s, 'nobody11', 'x', '2001:db8:0:1:ffff:ffff:ffff:ffff')).statusCode).toBe(
      429,
    );
    expect((await login(s, 'nobody12', 'x', '2001:db8:0:2::1')).statusCode).toBe(401);
  });

  it("keeps an account's spent budget across a restart", async () => {
    const c = clock();
    const first = await start(c);
    await addAlice(first);
    for (let i = 0; i < 10; i++) {
      expect((await login(first, 'alice', `wrong ${i}`, `10.5.0.${i}`)).statusCode).toBe(401);
    }
    await first.close();
    c.advance(MINUTE);
    const second = await start(c, first.dir);
    const res = await login(second, 'alice', PASSWORD, '10.5.1.1');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBe(String(14 * 60));
    c.advance(14 * MINUTE);
    expect((await login(second, 'alice', PASSWORD, '10.5.1.1')).statusCode).toBe(200);
  });

  it('lets no schedule of clients make more than 100 password checks an hour on an account', async () => {
    const c = clock();
    const s = await start(c);
    await addAlice(s);
    const checked: number[] = [];
    // Three hours of guesses, one every 20 s, each from a new address, over every action.
    for (let i = 0; i < 540; i++) {
      c.advance(20_000);
      const ip = `10.${6 + (i >> 8)}.${i & 255}.1`;
      const res = await [login, pair, authTest][i % 3]!(s, 'alice', `guess ${i}`, ip);
      if (res.statusCode === 401) checked.push(c.now().getTime());
      else expect(res.statusCode).toBe(429);
    }
    expect(checked.length).toBeGreaterThan(0);
    for (const t of checked) {
      expect(checked.filter((u) => u > t - 60 * MINUTE && u <= t).length).toBeLessThanOrEqual(100);
    }
  });
});
