import { describe, expect, it } from 'vitest';
import { addUser, pair, PASSWORD, type TestServer } from '../helpers/sync-app.js';
import { adminBrowser, logHead, startAdminServer } from './admin-rig.js';
import {
  adminApiCall,
  eventsAfter,
  expectNowhereInClear,
  userIdOf,
  userRow,
  userSignIn,
} from './admin-users-rig.js';
import type { WebClient } from './browser-client.js';

// CONTRACT.md §10: the admin JSON API for users. Every refusal is a `{error, code}` body
// and leaves the log as it was.

interface ApiUser {
  id: string;
  username: string;
  email: string;
  confirmed: number;
  blocked: number;
  last_seen: string;
  created_at: string;
  devices: number;
}

async function world() {
  const server = await startAdminServer();
  const ids: Record<string, string> = {};
  for (const [name, confirmed] of [
    ['alice', true],
    ['bob', true],
    ['carol', false],
  ] as const) {
    ids[name] = await addUser(server, name, confirmed);
  }
  const client = await adminBrowser(server);
  const call = (
    ...args: Parameters<typeof adminApiCall> extends [TestServer, WebClient, ...infer R] ? R : never
  ) => adminApiCall(server, client, ...args);
  return { server, ids, client, call };
}

describe('GET /admin/api/users', () => {
  it('lists, filters by username, sorts, orders and pages', async () => {
    const { server, ids, call } = await world();
    const device = await pair(server, 'alice', 'notes');
    // A device's request is what the last_seen side table records.
    await server.app.inject({
      method: 'GET',
      url: '/api/client/me',
      headers: { authorization: `Bearer ${device.token}` },
    });
    const res = await call('GET', '/admin/api/users?sort=username&order=asc');
    expect(res.statusCode).toBe(200);
    const body = res.json<{ users: ApiUser[]; total: number; page: number; per_page: number }>();
    expect(body).toMatchObject({ total: 3, page: 1, per_page: 20 });
    expect(body.users.map((u) => u.username)).toEqual(['alice', 'bob', 'carol']);
    expect(body.users[0]).toEqual({
      id: ids.alice,
      username: 'alice',
      email: 'alice@example.test',
      confirmed: 1,
      blocked: 0,
      last_seen: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      devices: 1,
    });
    expect(body.users[2]).toMatchObject({
      username: 'carol',
      confirmed: 0,
      devices: 0,
      last_seen: '',
    });
    const names = async (query: string) =>
      (await call('GET', `/admin/api/users?${query}`))
        .json<{ users: ApiUser[] }>()
        .users.map((u) => u.username);
    expect(await names('sort=username')).toEqual(['carol', 'bob', 'alice']);
    expect(await names('filter=AL')).toEqual(['alice']);
    // The filter is the username's: an address alone does not match.
    expect(await names('filter=example.test')).toEqual([]);
    expect(await names('sort=devices&order=desc&per_page=1')).toEqual(['alice']);
    const page2 = await call('GET', '/admin/api/users?sort=username&order=asc&per_page=2&page=2');
    expect(page2.json()).toMatchObject({ total: 3, page: 2, per_page: 2 });
    expect(page2.json<{ users: ApiUser[] }>().users.map((u) => u.username)).toEqual(['carol']);
    // Out of range or nonsense: the defaults, never an error or SQL.
    const odd = await call('GET', '/admin/api/users?per_page=500&page=x&sort=password_hash;--');
    expect(odd.statusCode).toBe(200);
    expect(odd.json()).toMatchObject({ page: 1, per_page: 20, total: 3 });
  });

  it('sends a browser without an admin session to the sign-in page', async () => {
    const { server } = await world();
    const res = await server.app.inject({ method: 'GET', url: '/admin/api/users' });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/admin/login');
  });
});

describe('POST /admin/api/users/create', () => {
  it('creates a confirmed user', async () => {
    const { server, call } = await world();
    const head = logHead(server);
    const res = await call('POST', '/admin/api/users/create', {
      username: 'dora',
      email: 'Dora@Example.test',
      password: 'dora password 1',
    });
    expect(res.statusCode, res.body).toBe(200);
    const { user_id } = res.json<{ status: string; user_id: string }>();
    expect(res.json()).toEqual({ status: 'ok', user_id });
    expect(userRow(server, user_id)).toEqual({
      username: 'dora',
      email: 'dora@example.test',
      confirmed: 1,
      blocked: 0,
    });
    expect(eventsAfter(server, head)).toEqual([
      { type: 'UserRegistered', stream: `user/${user_id}`, actor: 'admin:root' },
    ]);
    expect((await userSignIn(server, 'dora', 'dora password 1')).status).toBe(303);
  });

  it('refuses missing fields, bad JSON, password rules, duplicates and a missing CSRF token', async () => {
    const { server, call } = await world();
    const head = logHead(server);
    const cases: [unknown, number, string][] = [
      [{ username: 'x', email: 'x@example.test' }, 400, 'invalid_request'],
      [{ username: 'x', email: '', password: PASSWORD }, 400, 'invalid_request'],
      [{ username: 5, email: 'x@example.test', password: PASSWORD }, 400, 'invalid_json'],
      [[1, 2], 400, 'invalid_json'],
      [{ username: 'x', email: 'x@example.test', password: 'short' }, 400, 'invalid_request'],
      [{ username: 'x y', email: 'x@example.test', password: PASSWORD }, 400, 'invalid_request'],
      [{ username: 'x', email: 'not an address', password: PASSWORD }, 400, 'invalid_request'],
      [{ username: 'ALICE', email: 'x@example.test', password: PASSWORD }, 409, 'already_exists'],
      [{ username: 'x', email: 'bob@example.test', password: PASSWORD }, 409, 'already_exists'],
    ];
    for (const [body, status, code] of cases) {
      const res = await call('POST', '/admin/api/users/create', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(res.json(), JSON.stringify(body)).toEqual({ error: expect.any(String), code });
    }
    const noBody = await call('POST', '/admin/api/users/create');
    expect(noBody.statusCode).toBe(400);
    const noCsrf = await call(
      'POST',
      '/admin/api/users/create',
      { username: 'x', email: 'x@example.test', password: PASSWORD },
      { csrf: false },
    );
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json()).toMatchObject({ code: 'csrf_invalid' });
    expect(logHead(server)).toBe(head);
  });
});

describe('POST /admin/api/users/{id}/block', () => {
  it('toggles, ending the user’s sessions when it blocks', async () => {
    const { server, ids, call } = await world();
    const user = await userSignIn(server, 'alice', PASSWORD);
    const head = logHead(server);
    const block = await call('POST', `/admin/api/users/${ids.alice}/block`, {});
    expect(block.json()).toEqual({ status: 'ok', blocked: 1 });
    expect(eventsAfter(server, head).map((e) => e.type)).toEqual(['UserBlocked', 'SessionEnded']);
    expect((await user.client.get('/dashboard')).headers.location).toBe('/login');
    const unblock = await call('POST', `/admin/api/users/${ids.alice}/block`, {});
    expect(unblock.json()).toEqual({ status: 'ok', blocked: 0 });
    expect(userRow(server, ids.alice!)).toMatchObject({ blocked: 0 });
  });

  it('answers 404 for an unknown user and 403 without CSRF; nothing is written', async () => {
    const { server, ids, call } = await world();
    const head = logHead(server);
    const unknown = await call('POST', '/admin/api/users/nobody/block', {});
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: 'user not found', code: 'not_found' });
    const noCsrf = await call('POST', `/admin/api/users/${ids.alice}/block`, {}, { csrf: false });
    expect(noCsrf.statusCode).toBe(403);
    expect(logHead(server)).toBe(head);
  });
});

describe('POST /admin/api/users/{id}/reset-password', () => {
  it('answers a new 24-hex password once, which opens the account', async () => {
    const { server, ids, call } = await world();
    const user = await userSignIn(server, 'alice', PASSWORD);
    const head = logHead(server);
    const res = await call('POST', `/admin/api/users/${ids.alice}/reset-password`, {});
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const { new_password } = res.json<{ status: string; new_password: string }>();
    expect(res.json()).toEqual({
      status: 'ok',
      new_password: expect.stringMatching(/^[0-9a-f]{24}$/),
    });
    expect(eventsAfter(server, head).map((e) => e.type)).toEqual(['PasswordReset', 'SessionEnded']);
    expect((await user.client.get('/dashboard')).headers.location).toBe('/login');
    expect((await userSignIn(server, 'alice', new_password)).status).toBe(303);
    expect((await userSignIn(server, 'alice', PASSWORD)).status).toBe(401);
    expectNowhereInClear(server, new_password);
  });

  it('answers 404 for an unknown id (the reference invented a password), and limits attempts', async () => {
    const { server, call } = await world();
    const head = logHead(server);
    for (let i = 0; i < 8; i += 1) {
      const res = await call('POST', `/admin/api/users/nobody${i}/reset-password`, {});
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: 'user not found', code: 'not_found' });
    }
    const limited = await call('POST', '/admin/api/users/nobody/reset-password', {});
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(logHead(server)).toBe(head);
  });
});

describe('POST /admin/api/users/{id}/edit', () => {
  it('changes the username and address', async () => {
    const { server, ids, call } = await world();
    const head = logHead(server);
    const res = await call('POST', `/admin/api/users/${ids.alice}/edit`, {
      username: 'alicia',
      email: 'alicia@example.test',
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    expect(userRow(server, ids.alice!)).toMatchObject({
      username: 'alicia',
      email: 'alicia@example.test',
    });
    expect(eventsAfter(server, head).map((e) => e.type)).toEqual(['UserUpdated']);
    expect(userIdOf(server, 'alice')).toBeUndefined();
  });

  it('refuses empty, bad and taken values and unknown users; nothing is written', async () => {
    const { server, ids, call } = await world();
    const head = logHead(server);
    const edit = (id: string, body: unknown) => call('POST', `/admin/api/users/${id}/edit`, body);
    const cases: [string, unknown, number, string][] = [
      [ids.alice!, { username: '', email: 'a@example.test' }, 400, 'invalid_request'],
      [ids.alice!, { username: 'alice' }, 400, 'invalid_request'],
      [ids.alice!, { username: 'a b', email: 'a@example.test' }, 400, 'invalid_request'],
      [ids.alice!, { username: 'a', email: 'nope' }, 400, 'invalid_request'],
      [ids.alice!, { username: ['a'], email: 'a@example.test' }, 400, 'invalid_json'],
      [ids.alice!, { username: 'Bob', email: 'alice@example.test' }, 409, 'already_exists'],
      [ids.alice!, { username: 'alice', email: 'carol@example.test' }, 409, 'already_exists'],
      ['nobody', { username: 'x', email: 'x@example.test' }, 404, 'not_found'],
    ];
    for (const [id, body, status, code] of cases) {
      const res = await edit(id, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(res.json()).toEqual({ error: expect.any(String), code });
    }
    expect(logHead(server)).toBe(head);
  });
});

describe('DELETE /admin/api/users/{id}', () => {
  it('deletes the user and their devices', async () => {
    const { server, ids, call } = await world();
    const device = await pair(server, 'bob', 'notes');
    const head = logHead(server);
    const res = await call('DELETE', `/admin/api/users/${ids.bob}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ status: 'deleted' });
    expect(eventsAfter(server, head).map((e) => e.type)).toEqual(['UserDeleted']);
    expect(userRow(server, ids.bob!)).toBeUndefined();
    const me = await server.app.inject({
      method: 'GET',
      url: '/api/client/me',
      headers: { authorization: `Bearer ${device.token}` },
    });
    expect(me.statusCode).toBe(401);
    const again = await call('DELETE', `/admin/api/users/${ids.bob}`);
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ error: 'user not found', code: 'not_found' });
  });

  it('needs CSRF', async () => {
    const { server, ids, call } = await world();
    const head = logHead(server);
    const res = await call('DELETE', `/admin/api/users/${ids.bob}`, undefined, { csrf: false });
    expect(res.statusCode).toBe(403);
    expect(logHead(server)).toBe(head);
    expect(userRow(server, ids.bob!)).toBeDefined();
  });
});

describe('other paths under /admin/api/users/', () => {
  it('answers 404 unknown action for another suffix, 405 for another method', async () => {
    const { server, ids, call } = await world();
    const head = logHead(server);
    const unknown = await call('POST', `/admin/api/users/${ids.alice}/frobnicate`, {});
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: 'unknown action', code: 'not_found' });
    for (const [method, url] of [
      ['POST', `/admin/api/users/${ids.alice}`],
      ['GET', `/admin/api/users/${ids.alice}/block`],
      ['PUT', `/admin/api/users/${ids.alice}`],
      ['DELETE', '/admin/api/users'],
    ] as const) {
      const res = await call(method, url);
      expect(res.statusCode, `${method} ${url}`).toBe(405);
      expect(res.json()).toMatchObject({ code: 'method_not_allowed' });
    }
    expect(logHead(server)).toBe(head);
  });
});
