import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/clock.js';
import { createLogger } from '../../../src/logger.js';
import type { TestServer } from '../../helpers/sync-app.js';
import {
  PASSWORD,
  emailOf,
  lastMail,
  pairWith,
  post,
  registerConfirmed,
  sessionOf,
  startAccountsServer,
  tokenOf,
} from './helpers.js';

let server: TestServer;
afterEach(async () => server.close());

function expectLimited(res: LightMyRequestResponse, retryAfter: number) {
  expect(res.statusCode).toBe(429);
  expect(res.json()).toEqual({ error: 'too many attempts', code: 'rate_limited' });
  expect(res.headers['retry-after']).toBe(String(retryAfter));
}

const start = async () => {
  const clock = createManualClock('2026-03-01T10:00:00Z');
  server = await startAccountsServer({ clock });
  return clock;
};

describe('rate limits (CONTRACT.md §6)', () => {
  it('register: 5 an hour per IP, counted after the address check and before the password rules', async () => {
    const clock = await start();
    const attempt = (n: number, extra: object = {}) =>
      post(server, '/api/v1/auth/register', {
        username: `u${n}`,
        email: emailOf(`u${n}`),
        password: PASSWORD,
        ...extra,
      });
    for (let i = 0; i < 3; i++)
      expect((await attempt(i, { email: 'not an address' })).statusCode).toBe(400);
    for (let i = 0; i < 3; i++)
      expect((await attempt(i, { password: 'short' })).statusCode).toBe(400);
    expect((await attempt(3)).statusCode).toBe(200);
    expect((await attempt(4)).statusCode).toBe(200);
    clock.advance(60_000);
    expectLimited(await attempt(5), 3540);
  });

  it('register: 5 an hour per address, from any IP', async () => {
    await start();
    const attempt = (i: number) =>
      post(
        server,
        '/api/v1/auth/register',
        { username: `u${i}`, email: 'same@example.test', password: PASSWORD },
        { remoteAddress: `10.0.0.${i}` },
      );
    for (let i = 0; i < 5; i++) expect((await attempt(i)).statusCode).toBe(200);
    expectLimited(await attempt(5), 3600);
  });

  it('login: 10 in 10 minutes per IP, successes included; 10 failures in 15 minutes per account', async () => {
    const clock = await start();
    await registerConfirmed(server, 'alice');
    for (let i = 0; i < 10; i++)
      expect(
        (await post(server, '/api/v1/auth/login', { username: `x${i}`, password: 'wrong!!!!' }))
          .statusCode,
      ).toBe(401);
    expectLimited(
      await post(server, '/api/v1/auth/login', { username: 'alice', password: PASSWORD }),
      600,
    );
    // The account's budget counts failed checks only, over every alias: her own sign-ins
    // never lock her out, 10 wrong passwords from anywhere do.
    for (let i = 0; i < 10; i++) {
      const username = [' ALICE ', emailOf('alice')][i % 2]!;
      const ok = await post(
        server,
        '/api/v1/auth/login',
        { username, password: PASSWORD },
        { remoteAddress: `10.0.0.${i}` },
      );
      expect(ok.statusCode).toBe(200);
      const wrong = await post(
        server,
        '/api/v1/auth/login',
        { username, password: 'wrong password' },
        { remoteAddress: `10.0.2.${i}` },
      );
      expect(wrong.statusCode).toBe(401);
    }
    expectLimited(
      await post(
        server,
        '/api/v1/auth/login',
        { username: 'alice', password: PASSWORD },
        { remoteAddress: '10.0.1.1' },
      ),
      900,
    );
    clock.advance(15 * 60_000);
    expect(
      (await post(server, '/api/v1/auth/login', { username: 'alice', password: PASSWORD }))
        .statusCode,
    ).toBe(200);
  });

  it('forgot: 5 an hour per address; refusals are summed up in one log line, not one each', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      destination: { write: (line: string) => void lines.push(line) },
    });
    server = await startAccountsServer({
      clock: createManualClock('2026-03-01T10:00:00Z'),
      logger,
    });
    const attempt = (i: number) =>
      post(
        server,
        '/api/v1/auth/forgot',
        { email: 'x@example.test' },
        { remoteAddress: `10.0.0.${i}` },
      );
    for (let i = 0; i < 5; i++) expect((await attempt(i)).statusCode).toBe(200);
    for (let i = 5; i < 8; i++) expectLimited(await attempt(i), 3600);
    const summaries = () =>
      lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'rate limits refused requests');
    expect(lines.join('')).not.toContain('rate limit');
    await server.close();
    expect(summaries()).toHaveLength(1);
    expect(summaries()[0]).toMatchObject({
      level: 40,
      rateLimits: {
        refused: { 'account:forgot': 3 },
        lockouts: 1,
        locked: [{ action: 'forgot', scope: 'account', retry_after: 3600 }],
      },
    });
  });

  it('reset: 8 an hour per IP', async () => {
    await start();
    await registerConfirmed(server, 'alice');
    await post(server, '/api/v1/auth/forgot', { email: emailOf('alice') });
    const token = tokenOf(lastMail(server, emailOf('alice'), 'reset-password'));
    for (let i = 0; i < 8; i++) {
      expect(
        (
          await post(server, '/api/v1/auth/reset', {
            token: 'f'.repeat(64),
            new_password: 'new password 1',
          })
        ).statusCode,
      ).toBe(400);
    }
    expectLimited(
      await post(server, '/api/v1/auth/reset', { token, new_password: 'new password 1' }),
      3600,
    );
    const elsewhere = await post(
      server,
      '/api/v1/auth/reset',
      { token, new_password: 'new password 1' },
      { remoteAddress: '10.0.0.1' },
    );
    expect(elsewhere.statusCode).toBe(200);
  });

  it("device revocation: 10 wrong passwords in 15 minutes spend the user's budget, from any IP", async () => {
    await start();
    await registerConfirmed(server, 'alice');
    const device = (await pairWith(server, 'alice', PASSWORD)).json();
    const { token } = await sessionOf(server, 'alice');
    const attempt = (i: number, password: string) =>
      post(
        server,
        `/api/v1/user/devices/${device.device_id}/revoke`,
        { password },
        {
          headers: { authorization: `Bearer ${token}` },
          remoteAddress: `10.0.0.${i}`,
        },
      );
    for (let i = 0; i < 10; i++) expect((await attempt(i, 'wrong password')).statusCode).toBe(403);
    expectLimited(await attempt(10, PASSWORD), 900);
  });
});
