import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import {
  addUser,
  call,
  nextPeer,
  pair,
  PASSWORD,
  pull,
  push,
  startTestServer,
  textOp,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';

// CONTRACT.md §3.1 (device tokens), §4.1–4.5 and §4.10 (pairing and revocation), §6 (rate limits).

const MINUTE = 60_000;
const clock = createManualClock('2026-11-26T10:00:00.000Z');

let server: TestServer;
const userIds: Record<string, string> = {};
beforeAll(async () => {
  server = await startTestServer({ databaseFile: ':memory:', clock });
  for (const name of ['alice', 'bob', 'blocked', 'dora'])
    userIds[name] = await addUser(server, name);
  userIds.unconfirmed = await addUser(server, 'unconfirmed', false);
  server.runtime.users.setBlocked(userIds.blocked!, true, { actor: 'test' });
});
afterAll(async () => server.close());
// Every pairing counts against the limits; a fresh window per test keeps the tests apart.
beforeEach(() => clock.advance(15 * MINUTE));

const error = (message: string, code: string) => ({ error: message, code });
const outcome = async (res: Promise<{ statusCode: number; json(): unknown }>) => {
  const r = await res;
  return [r.statusCode, r.json()];
};

function pairRaw(body: object, remoteAddress = nextPeer(), authorization = 'Bearer ') {
  return server.app.inject({
    method: 'POST',
    url: '/api/client/pair',
    remoteAddress,
    headers: { authorization },
    payload: { device_name: 'laptop', client_version: 'verstak-desktop/v2', ...body },
  });
}

const me = (headers: Record<string, string>, query = '') =>
  server.app.inject({ method: 'GET', url: `/api/client/me${query}`, headers });

describe('device tokens', () => {
  let device: Device;
  beforeAll(async () => {
    device = await pair(server, 'alice', 'vault-tokens');
  });

  it('are accepted as Bearer, as the raw header value and as ?api_key=', async () => {
    expect((await me({ authorization: `Bearer ${device.token}` })).statusCode).toBe(200);
    expect((await me({ authorization: device.token })).statusCode).toBe(200);
    expect((await me({}, `?api_key=${device.token}`)).json()).toMatchObject({
      device_id: device.deviceId,
    });
    // The desktop's empty Bearer header falls through to the query parameter.
    expect((await me({ authorization: 'Bearer ' }, `?api_key=${device.token}`)).statusCode).toBe(
      200,
    );
    const viaQuery = await server.app.inject({
      method: 'POST',
      url: `/api/v1/sync/push?api_key=${device.token}`,
      payload: { ops: [textOp('q-1', 'q.md', 'q')] },
    });
    expect(viaQuery.json().accepted).toEqual(['q-1']);
    const pulled = await server.app.inject({
      method: 'POST',
      url: `/api/v1/sync/pull?api_key=${device.token}`,
      payload: {},
    });
    expect(pulled.json().ops.map((o: { op_id: string }) => o.op_id)).toEqual(['q-1']);
  });

  it('are refused with the contract’s 401 messages when missing, unknown or lower-case bearer', async () => {
    for (const headers of [{}, { authorization: 'Bearer ' }, { authorization: '' }] as Record<
      string,
      string
    >[]) {
      const res = await me(headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual(error('API key required', 'unauthorized'));
    }
    for (const authorization of [
      `bearer ${device.token}`,
      `Bearer ${'0'.repeat(64)}`,
      `Token ${device.token}`,
    ]) {
      const res = await me({ authorization });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual(error('invalid API key', 'unauthorized'));
    }
    expect((await me({}, '?api_key=nope')).json()).toEqual(
      error('invalid API key', 'unauthorized'),
    );
  });

  it('of a blocked user get 403 on push, pull and me, and work again after unblocking', async () => {
    const dora = await pair(server, 'dora', 'vault-d');
    server.runtime.users.setBlocked(userIds.dora!, true, { actor: 'test' });
    const head = server.runtime.store.head();
    const answers = [
      await push(server, dora, [textOp('d-1', 'd.md', 'd')]),
      await pull(server, dora, 0),
      await call(server, dora, { method: 'GET', url: '/api/client/me' }),
      await call(server, dora, { method: 'POST', url: '/api/client/revoke-current' }),
    ];
    for (const res of answers) {
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual(error('user blocked', 'forbidden'));
    }
    expect(server.runtime.store.head()).toBe(head);
    server.runtime.users.setBlocked(userIds.dora!, false, { actor: 'test' });
    expect((await push(server, dora, [textOp('d-1', 'd.md', 'd')])).json().accepted).toEqual([
      'd-1',
    ]);
    expect(
      (await call(server, dora, { method: 'GET', url: '/api/client/me' })).json().revoked_at,
    ).toBe('');
  });

  it('stop working once revoked: 401 device revoked everywhere', async () => {
    const gone = await pair(server, 'alice', 'vault-tokens', 'old');
    expect(
      (await call(server, gone, { method: 'POST', url: '/api/client/revoke-current' })).json(),
    ).toEqual({
      status: 'revoked',
    });
    for (const res of [
      await push(server, gone, []),
      await pull(server, gone, 0),
      await call(server, gone, { method: 'GET', url: '/api/client/me' }),
      await call(server, gone, { method: 'POST', url: '/api/client/revoke-current' }),
      await me({}, `?api_key=${gone.token}`),
    ]) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual(error('device revoked', 'unauthorized'));
    }
  });
});

describe('pairing', () => {
  it('answers the desktop’s fields and ignores any token sent along', async () => {
    const res = await pairRaw(
      { login: 'ALICE@example.test', password: PASSWORD, vault_id: ' vault-p ' },
      nextPeer(),
      'Bearer nonsense',
    );
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.server_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(body).toEqual({
      user_id: userIds.alice,
      device_id: expect.stringMatching(/^dev_/),
      device_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      server_time: clock
        .now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
      initial_sync_cursor: 0,
    });
    const device = { token: body.device_token, deviceId: body.device_id, userId: body.user_id };
    await push(server, device, [textOp('p-1', 'p.md', 'p')]);
    // The vault id was trimmed: another device paired with "vault-p" shares the vault.
    const twin = await pair(server, 'alice', 'vault-p');
    expect((await pull(server, twin, 0)).json().ops).toHaveLength(1);
  });

  it('refuses blocked and unconfirmed accounts only to someone who knows the password', async () => {
    const cases = [
      ['blocked', PASSWORD, 403, 'account blocked', 'forbidden'],
      ['unconfirmed', PASSWORD, 403, 'email not confirmed', 'forbidden'],
      ['blocked', 'wrong password', 401, 'invalid credentials', 'unauthorized'],
      ['unconfirmed', 'wrong password', 401, 'invalid credentials', 'unauthorized'],
      ['alice', 'wrong password', 401, 'invalid credentials', 'unauthorized'],
      ['nobody', PASSWORD, 401, 'invalid credentials', 'unauthorized'],
    ] as const;
    for (const [login, password, status, message, code] of cases) {
      const res = await pairRaw({ login, password, vault_id: 'v' });
      expect([login, password, res.statusCode]).toEqual([login, password, status]);
      expect(res.json()).toEqual(error(message, code));
    }
  });

  it('validates vault_id and the required fields', async () => {
    const cases: [object, string][] = [
      [{ login: 'alice', password: PASSWORD }, 'vault_id required'],
      [{ login: 'alice', password: PASSWORD, vault_id: '   ' }, 'vault_id required'],
      [
        { login: 'alice', password: PASSWORD, vault_id: 'legacy:x' },
        'vault_id uses reserved prefix',
      ],
      [
        { login: 'alice', password: PASSWORD, vault_id: ' legacy:x' },
        'vault_id uses reserved prefix',
      ],
      [{ login: 'alice', vault_id: 'v' }, 'login and password required'],
      [{ password: PASSWORD, vault_id: 'v' }, 'login and password required'],
    ];
    for (const [body, message] of cases) {
      const res = await pairRaw(body, nextPeer());
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(error(message, 'invalid_request'));
    }
    const long = await pairRaw({ login: 'bob', password: PASSWORD, vault_id: 'v'.repeat(257) });
    expect(long.statusCode).toBe(400);
    expect(long.json().code).toBe('invalid_request');
    expect(
      (await pairRaw({ login: 'bob', password: PASSWORD, vault_id: 'я'.repeat(128) })).statusCode,
    ).toBe(200);
  });
});

describe('auth/test', () => {
  const test = (body: object) =>
    server.app.inject({
      method: 'POST',
      url: '/api/auth/test',
      remoteAddress: nextPeer(),
      headers: { authorization: 'Bearer ' },
      payload: body,
    });

  it('answers 200, 401, 403 and 400 and creates nothing', async () => {
    const head = server.runtime.store.head();
    expect((await test({ username: 'alice', password: PASSWORD })).json()).toEqual({
      status: 'ok',
    });
    expect((await test({ username: 'alice@EXAMPLE.test', password: PASSWORD })).statusCode).toBe(
      200,
    );
    expect((await test({ username: 'alice', password: 'nope' })).json()).toEqual(
      error('invalid credentials', 'unauthorized'),
    );
    expect((await test({ username: 'nobody', password: 'nope' })).statusCode).toBe(401);
    expect((await test({ username: 'blocked', password: PASSWORD })).json()).toEqual(
      error('account blocked', 'forbidden'),
    );
    expect((await test({ username: 'unconfirmed', password: PASSWORD })).json()).toEqual(
      error('email not confirmed', 'forbidden'),
    );
    for (const body of [{ username: 'alice' }, { password: PASSWORD }, {}]) {
      const res = await test(body);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('invalid_request');
    }
    expect(server.runtime.store.head()).toBe(head);
  });
});

describe('revoke-device', () => {
  const revoke = (device: Device, body: object) =>
    call(server, device, { method: 'POST', url: '/api/client/revoke-device', payload: body });

  it('revokes another device of the caller, and refuses wrong passwords, unknown and foreign devices', async () => {
    const one = await pair(server, 'bob', 'vault-r', 'one');
    const two = await pair(server, 'bob', 'vault-r', 'two');
    const alices = await pair(server, 'alice', 'vault-r', 'alice’s');

    expect(await outcome(revoke(one, { device_id: two.deviceId, password: 'wrong' }))).toEqual([
      403,
      error('wrong password', 'forbidden'),
    ]);
    expect(await outcome(revoke(one, { device_id: 'dev_unknown', password: PASSWORD }))).toEqual([
      404,
      error('device not found', 'not_found'),
    ]);
    expect(await outcome(revoke(one, { device_id: alices.deviceId, password: PASSWORD }))).toEqual([
      403,
      error('device does not belong to you', 'forbidden'),
    ]);
    expect((await call(server, alices, { method: 'GET', url: '/api/client/me' })).statusCode).toBe(
      200,
    );
    for (const body of [{ device_id: two.deviceId }, { password: PASSWORD }]) {
      expect((await revoke(one, body)).statusCode).toBe(400);
    }
    expect((await call(server, two, { method: 'GET', url: '/api/client/me' })).statusCode).toBe(
      200,
    );

    const ok = await revoke(one, { device_id: two.deviceId, password: PASSWORD });
    expect([ok.statusCode, ok.json()]).toEqual([200, { status: 'revoked' }]);
    expect((await call(server, two, { method: 'GET', url: '/api/client/me' })).json()).toEqual(
      error('device revoked', 'unauthorized'),
    );
    expect((await call(server, one, { method: 'GET', url: '/api/client/me' })).statusCode).toBe(
      200,
    );
  });
});

describe('legacy /api/v1/device/register', () => {
  const register = (body: object) =>
    server.app.inject({
      method: 'POST',
      url: '/api/v1/device/register',
      remoteAddress: nextPeer(),
      payload: body,
    });

  it('checks name, credentials and vault_id, and returns a working token', async () => {
    const full = {
      name: 'old client',
      username: 'alice',
      password: PASSWORD,
      vault_id: 'vault-legacy',
    };
    expect((await register({ ...full, name: '' })).json()).toEqual(
      error('name required', 'invalid_request'),
    );
    for (const missing of ['username', 'password'] as const) {
      const res = await register({ ...full, [missing]: undefined });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('unauthorized');
    }
    expect((await register({ ...full, vault_id: '' })).json()).toEqual(
      error('vault_id required', 'invalid_request'),
    );
    expect((await register({ ...full, vault_id: 'legacy:1' })).json()).toEqual(
      error('vault_id uses reserved prefix', 'invalid_request'),
    );
    const res = await register(full);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['device_id', 'device_token']);
    const device = { token: body.device_token, deviceId: body.device_id, userId: userIds.alice! };
    expect((await push(server, device, [textOp('l-1', 'l.md', 'l')])).json().accepted).toEqual([
      'l-1',
    ]);
  });
});

describe('rate limits (CONTRACT.md §6)', () => {
  it('refuses the 6th pair attempt from one IP within 15 minutes, before checking anything else', async () => {
    const ip = '192.0.2.10';
    for (let i = 0; i < 5; i++) {
      const res = await pairRaw({ login: `nobody-${i}`, password: 'x', vault_id: 'v' }, ip);
      expect(res.statusCode).toBe(401);
    }
    clock.advance(10 * MINUTE);
    for (const body of [
      { login: 'alice', password: PASSWORD, vault_id: 'v' },
      { login: 'someone-else', password: 'x', vault_id: 'legacy:x' },
    ]) {
      const limited = await pairRaw(body, ip);
      expect(limited.statusCode).toBe(429);
      expect(limited.json()).toEqual({ error: expect.any(String), code: 'rate_limited' });
      expect(limited.headers['retry-after']).toBe('300');
    }
    // Other addresses are not affected; the window ends 15 minutes after it began.
    expect((await pairRaw({ login: 'alice', password: PASSWORD, vault_id: 'v' })).statusCode).toBe(
      200,
    );
    clock.advance(5 * MINUTE);
    expect(
      (await pairRaw({ login: 'alice', password: PASSWORD, vault_id: 'v' }, ip)).statusCode,
    ).toBe(200);
  });

  it('keys the account budget by the trimmed, lower-cased login across addresses: 10 failures in 15 minutes', async () => {
    const variants = ['carol', ' Carol', 'CAROL ', 'carol', ' cArOl '];
    const logins = [...variants, ...variants];
    for (const login of logins) {
      expect((await pairRaw({ login, password: 'wrong', vault_id: 'v' })).statusCode).toBe(401);
    }
    const limited = await pairRaw({ login: 'carol', password: 'wrong', vault_id: 'v' });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(Number(limited.headers['retry-after']))).toBe(true);
    // Other logins are not affected.
    expect((await pairRaw({ login: 'carol2', password: 'wrong', vault_id: 'v' })).statusCode).toBe(
      401,
    );
    clock.advance(15 * MINUTE);
    expect((await pairRaw({ login: 'carol', password: 'wrong', vault_id: 'v' })).statusCode).toBe(
      401,
    );
  });

  it('never limits sync and me traffic', async () => {
    const device = await pair(server, 'alice', 'vault-busy');
    for (let i = 0; i < 30; i++) {
      expect((await pull(server, device, 0)).statusCode).toBe(200);
      expect(
        (await call(server, device, { method: 'GET', url: '/api/client/me' })).statusCode,
      ).toBe(200);
    }
  });
});
