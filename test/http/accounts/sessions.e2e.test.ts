import { csrfTokenOf } from '../../../src/web/tokens.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/clock.js';
import type { TestServer } from '../../helpers/sync-app.js';
import {
  HOUR,
  PASSWORD,
  PUBLIC_URL,
  comparableHeaders,
  devicesWith,
  eventsOfType,
  login,
  pairWith,
  post,
  registerConfirmed,
  send,
  sessionOf,
  startAccountsServer,
} from './helpers.js';

let server: TestServer;
afterEach(async () => server.close());

const revoke = (
  token: string,
  deviceId: string,
  payload: object,
  headers: Record<string, string> = {},
) =>
  post(server, `/api/v1/user/devices/${deviceId}/revoke`, payload, {
    headers: { authorization: `Bearer ${token}`, ...headers },
  });

const me = (deviceToken: string) =>
  send(server, 'GET', '/api/client/me', undefined, {
    headers: { authorization: `Bearer ${deviceToken}` },
  });

function expectLoginRedirect(res: { statusCode: number; headers: Record<string, unknown> }) {
  expect(res.statusCode).toBe(302);
  expect(res.headers.location).toBe('/login');
}

describe('a signed-in user and their devices', () => {
  it('logs in, lists paired devices newest first and revokes one with the password', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    const { token, user_id } = await sessionOf(server, 'alice');
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect((await devicesWith(server, token)).json()).toEqual([]);

    const first = (await pairWith(server, 'alice', PASSWORD, 'vault-1')).json();
    const second = (await pairWith(server, 'alice@example.test', PASSWORD, 'vault-2')).json();
    expect(first.user_id).toBe(user_id);
    const listed = await devicesWith(server, token);
    expect(listed.statusCode).toBe(200);
    expect(listed.json()).toEqual([
      expect.objectContaining({ id: second.device_id, vault_id: 'vault-2' }),
      {
        id: first.device_id,
        name: 'laptop',
        vault_id: 'vault-1',
        client_version: 'verstak-desktop/v2',
        last_seen: '',
        revoked_at: '',
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      },
    ]);

    const missing = await revoke(token, first.device_id, {});
    expect(missing.statusCode).toBe(400);
    const wrong = await revoke(token, first.device_id, { password: 'not the password' });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json()).toEqual({ error: 'wrong password', code: 'forbidden' });
    const unknown = await revoke(token, 'dev_unknown', { password: PASSWORD });
    expect(unknown.statusCode).toBe(404);
    expect((await me(first.device_token)).statusCode).toBe(200);

    const ok = await revoke(token, first.device_id, { password: PASSWORD });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ status: 'revoked' });
    expect((await me(first.device_token)).statusCode).toBe(401);
    expect((await me(second.device_token)).statusCode).toBe(200);
    const after = (await devicesWith(server, token)).json();
    expect(after[1].revoked_at).toMatch(/Z$/);
    expect(after[0].revoked_at).toBe('');
  });

  it("refuses another user's device with 403 and shows only one's own", async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    await registerConfirmed(server, 'bob');
    const bobDevice = (await pairWith(server, 'bob', PASSWORD)).json();
    const alice = await sessionOf(server, 'alice');
    expect((await devicesWith(server, alice.token)).json()).toEqual([]);
    const res = await revoke(alice.token, bobDevice.device_id, { password: PASSWORD });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'device does not belong to you', code: 'forbidden' });
    expect((await me(bobDevice.device_token)).statusCode).toBe(200);
  });

  it('takes the session from the user_session cookie, but a cookie POST needs the CSRF token and the same origin', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    const device = (await pairWith(server, 'alice', PASSWORD)).json();
    const { token } = await sessionOf(server, 'alice');
    const cookie = `user_session=${token}`;
    const listed = await send(server, 'GET', '/api/v1/user/devices', undefined, {
      headers: { cookie },
    });
    expect(listed.json()).toHaveLength(1);
    const url = `/api/v1/user/devices/${device.device_id}/revoke`;
    const crossSite = await post(
      server,
      url,
      { password: PASSWORD },
      { headers: { cookie, origin: 'https://evil.example' } },
    );
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.json().code).toBe('csrf_invalid');
    expect((await me(device.device_token)).statusCode).toBe(200);
    const noToken = await post(
      server,
      url,
      { password: PASSWORD },
      { headers: { cookie, origin: PUBLIC_URL } },
    );
    expect([noToken.statusCode, noToken.json().code]).toEqual([403, 'csrf_invalid']);
    expect((await me(device.device_token)).statusCode).toBe(200);
    const csrf = csrfTokenOf(token);
    const sameSite = await post(
      server,
      url,
      { password: PASSWORD },
      {
        headers: {
          cookie: `${cookie}; csrf_token=${csrf}`,
          'x-csrf-token': csrf,
          origin: PUBLIC_URL,
        },
      },
    );
    expect(sameSite.statusCode).toBe(200);
  });

  it('sends requests without a live user session to /login, device tokens included', async () => {
    const clock = createManualClock('2026-03-01T10:00:00Z');
    server = await startAccountsServer({ clock });
    await registerConfirmed(server, 'alice');
    const device = (await pairWith(server, 'alice', PASSWORD)).json();
    const { token } = await sessionOf(server, 'alice');
    expectLoginRedirect(await send(server, 'GET', '/api/v1/user/devices'));
    expectLoginRedirect(await devicesWith(server, device.device_token));
    expectLoginRedirect(await devicesWith(server, 'f'.repeat(64)));
    expectLoginRedirect(
      await revoke(device.device_token, device.device_id, { password: PASSWORD }),
    );
    expect((await me(device.device_token)).statusCode).toBe(200);

    clock.advance(24 * HOUR - 1000);
    expect((await devicesWith(server, token)).statusCode).toBe(200);
    clock.advance(1000);
    expectLoginRedirect(await devicesWith(server, token));
  });
});

describe('logging in', () => {
  it('answers a wrong password and an unknown account identically, and counts both', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    const wrong = await login(server, 'alice', 'wrong password!');
    const unknown = await login(server, 'nobody', 'wrong password!');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.body).toBe(unknown.body);
    expect(wrong.json()).toEqual({ error: 'invalid credentials', code: 'unauthorized' });
    expect(comparableHeaders(wrong)).toEqual(comparableHeaders(unknown));
    // Counted, not logged per attempt (refusals-service.ts): one summary per window.
    expect(eventsOfType(server, 'LoginFailed')).toEqual([]);
    server.runtime.refusals.flushAll();
    const [summary, ...more] = eventsOfType(server, 'SecurityRefusalsCounted');
    expect(more).toEqual([]);
    expect(summary!.data.reasons).toEqual([
      { reason: 'unknown_login', count: 1 },
      { reason: 'wrong_password', count: 1 },
    ]);
    const targets = summary!.data.targets as { key: string }[];
    expect(targets.map((x) => x.key).sort()).toEqual([
      expect.stringMatching(/^typed:[0-9a-f]{16}$/),
      expect.stringMatching(/^user:[0-9a-f]{24}$/),
    ]);
    expect(eventsOfType(server, 'UserLoggedIn')).toEqual([]);
  });

  it('tells the account state only after a correct password', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    await post(server, '/api/v1/auth/register', {
      username: 'bob',
      email: 'bob@example.test',
      password: PASSWORD,
    });
    expect((await login(server, 'bob', 'wrong password!')).statusCode).toBe(401);
    expect((await login(server, 'bob')).json()).toEqual({
      error: 'email not confirmed',
      code: 'forbidden',
    });
    const userId = (await sessionOf(server, 'alice')).user_id;
    server.runtime.users.setBlocked(userId, true, { actor: 'test' });
    expect((await login(server, 'alice', 'wrong password!')).statusCode).toBe(401);
    expect((await login(server, 'alice')).json()).toEqual({
      error: 'account blocked',
      code: 'forbidden',
    });
    server.runtime.refusals.flushAll();
    const [summary] = eventsOfType(server, 'SecurityRefusalsCounted');
    expect(summary!.data.reasons).toEqual([
      { reason: 'wrong_password', count: 2 },
      { reason: 'account_blocked', count: 1 },
      { reason: 'email_not_confirmed', count: 1 },
    ]);
  });

  it('refuses 400 without username or password', async () => {
    server = await startAccountsServer();
    const res = await post(server, '/api/v1/auth/login', { username: 'alice' });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('invalid_request');
  });
});

describe('a blocked user', () => {
  it('loses device access and sessions; unblocking restores the devices only', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    const device = (await pairWith(server, 'alice', PASSWORD)).json();
    const { token, user_id } = await sessionOf(server, 'alice');
    server.runtime.users.setBlocked(user_id, true, { actor: 'test' });

    const refused = await me(device.device_token);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({ error: 'user blocked', code: 'forbidden' });
    expectLoginRedirect(await devicesWith(server, token));
    expect((await login(server, 'alice')).statusCode).toBe(403);
    const pairing = await pairWith(server, 'alice', PASSWORD, 'vault-2');
    expect(pairing.statusCode).toBe(403);
    expect(pairing.json()).toEqual({ error: 'account blocked', code: 'forbidden' });
    expect(eventsOfType(server, 'SessionEnded').map((e) => e.data.reason)).toEqual(['blocked']);

    server.runtime.users.setBlocked(user_id, false, { actor: 'test' });
    expect((await me(device.device_token)).statusCode).toBe(200);
    expectLoginRedirect(await devicesWith(server, token));
    expect((await devicesWith(server, (await sessionOf(server, 'alice')).token)).statusCode).toBe(
      200,
    );
  });
});
