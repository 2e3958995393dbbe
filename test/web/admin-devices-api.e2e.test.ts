import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { CATALOGUE } from '../../src/log/events/index.js';
import { addUser, pair, PASSWORD, type Device, type TestServer } from '../helpers/sync-app.js';
import { WebClient } from './browser-client.js';
import { adminBrowser, logHead, startAdminServer } from './admin-rig.js';

// CONTRACT.md §10: GET /admin/api/devices, GET /admin/api/keys (token hints only) and
// DELETE /admin/api/keys/{id}, which revokes an active device before deleting it.

async function someDevices() {
  const clock = createManualClock('2026-12-04T10:00:00.000Z');
  const server = await startAdminServer({ clock });
  await addUser(server, 'alice');
  await addUser(server, 'bob');
  const devices: Record<string, Device> = {};
  for (const [name, user] of [
    ['laptop', 'alice'],
    ['phone', 'alice'],
    ['desktop', 'bob'],
  ] as const) {
    clock.advance(60_000);
    devices[name] = await pair(server, user, 'vault-a', name);
  }
  return { server, clock, devices: devices as Record<'laptop' | 'phone' | 'desktop', Device> };
}

/** A JSON call from the signed-in console, with its CSRF header unless told otherwise. */
function api(server: TestServer, client: WebClient, method: 'GET' | 'DELETE' | 'POST' | 'PUT') {
  return (url: string, headers: Record<string, string> = {}) =>
    server.app.inject({
      method,
      url,
      headers: {
        cookie: client.cookieHeader(),
        ...(method === 'GET' ? {} : { 'x-csrf-token': client.cookies.get('csrf_token')! }),
        ...headers,
      },
    });
}

const me = (server: TestServer, device: Device) =>
  server.app.inject({
    method: 'GET',
    url: '/api/client/me',
    headers: { authorization: `Bearer ${device.token}` },
  });

const hintOf = (token: string) => `${token.slice(0, 8)}…${token.slice(-4)}`;

describe('GET /admin/api/devices', () => {
  it('lists every device, newest first, with its owner', async () => {
    const { server, devices } = await someDevices();
    server.runtime.devices.revoke(devices.phone.deviceId, devices.phone.userId, 'user', {
      actor: 'test',
    });
    const client = await adminBrowser(server);
    const res = await api(server, client, 'GET')('/admin/api/devices');
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-total-count']).toBe('3');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual([
      {
        id: devices.desktop.deviceId,
        name: 'desktop',
        client_version: 'verstak-desktop/v2',
        last_seen: '',
        revoked_at: '',
        created_at: '2026-12-04T10:03:00Z',
        user: 'bob',
      },
      expect.objectContaining({
        id: devices.phone.deviceId,
        revoked_at: '2026-12-04T10:03:00Z',
        user: 'alice',
      }),
      expect.objectContaining({ id: devices.laptop.deviceId, user: 'alice' }),
    ]);
    const seen = await me(server, devices.laptop);
    expect(seen.statusCode).toBe(200);
    const after = (await api(server, client, 'GET')('/admin/api/devices')).json<
      { id: string; last_seen: string }[]
    >();
    expect(after.find((d) => d.id === devices.laptop.deviceId)?.last_seen).toBe(
      '2026-12-04T10:03:00Z',
    );
  });

  it('answers one bounded page: per_page up to 1000 (the default), page from 1', async () => {
    const { server, devices } = await someDevices();
    const client = await adminBrowser(server);
    const get = api(server, client, 'GET');
    const ids = async (url: string) => (await get(url)).json<{ id: string }[]>().map((d) => d.id);
    expect(await ids('/admin/api/devices?per_page=2')).toEqual([
      devices.desktop.deviceId,
      devices.phone.deviceId,
    ]);
    expect(await ids('/admin/api/devices?per_page=2&page=2')).toEqual([devices.laptop.deviceId]);
    expect(await ids('/admin/api/devices?per_page=2&page=3')).toEqual([]);
    // Out of range or nonsense is the default page, never a 500 or an unbounded answer.
    for (const q of ['per_page=1001', 'per_page=0', 'page=-1', 'per_page=x&page=%00']) {
      expect(await ids(`/admin/api/devices?${q}`), q).toHaveLength(3);
    }
    expect(await ids('/admin/api/keys?per_page=1')).toEqual([devices.desktop.deviceId]);
  });
});

describe('GET /admin/api/keys', () => {
  it('shows the hint recorded at pairing, never the token', async () => {
    const { server, devices } = await someDevices();
    const client = await adminBrowser(server);
    const res = await api(server, client, 'GET')('/admin/api/keys');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([
      { id: devices.desktop.deviceId, name: 'desktop', token_hint: hintOf(devices.desktop.token) },
      { id: devices.phone.deviceId, name: 'phone', token_hint: hintOf(devices.phone.token) },
      { id: devices.laptop.deviceId, name: 'laptop', token_hint: hintOf(devices.laptop.token) },
    ]);
    for (const d of Object.values(devices)) {
      // 64 hex characters: the hint shows 12 of them (48 bits), 208 bits stay secret.
      expect(d.token).toMatch(/^[0-9a-f]{64}$/);
      expect(res.body).not.toContain(d.token);
    }
  });

  it('answers 405 to other methods', async () => {
    const { server } = await someDevices();
    const client = await adminBrowser(server);
    const head = logHead(server);
    for (const method of ['POST', 'PUT', 'DELETE'] as const) {
      const res = await api(server, client, method)('/admin/api/keys');
      expect(res.statusCode, method).toBe(405);
      expect(res.json()).toMatchObject({ code: 'method_not_allowed' });
    }
    expect(logHead(server)).toBe(head);
  });

  it('the token is in no byte of the database files; the hint is', async () => {
    const { server, devices } = await someDevices();
    const client = await adminBrowser(server);
    await api(server, client, 'DELETE')(`/admin/api/keys/${devices.phone.deviceId}`);
    const files = readdirSync(server.dir).filter((f) => f.startsWith('server.db'));
    expect(files).toContain('server.db');
    const bytes = Buffer.concat(files.map((f) => readFileSync(join(server.dir, f))));
    for (const d of Object.values(devices)) {
      expect(bytes.includes(d.token), d.token).toBe(false);
      // Not even the part the hint leaves out, in either case.
      expect(bytes.includes(d.token.slice(8, -4))).toBe(false);
      expect(bytes.includes(d.token.toUpperCase())).toBe(false);
    }
    expect(bytes.includes(hintOf(devices.laptop.token))).toBe(true);
  });
});

describe('DELETE /admin/api/keys/{id}', () => {
  it('revokes an active device and deletes it in one append; its token stops working', async () => {
    const { server, devices } = await someDevices();
    const user = new WebClient(server.app, { 'accept-language': 'en' });
    await user.submit('/login', '/login', { username: 'alice', password: PASSWORD });
    const client = await adminBrowser(server);
    const head = logHead(server);
    const res = await api(server, client, 'DELETE')(`/admin/api/keys/${devices.laptop.deviceId}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ status: 'deleted' });
    expect(logHead(server)).toBe(head + 2);
    const events = server.runtime.db
      .prepare('SELECT stream, type, meta FROM events WHERE seq > ? ORDER BY seq')
      .all(head) as { stream: string; type: string; meta: string }[];
    expect(events.map((e) => [e.stream, e.type])).toEqual([
      [`device/${devices.laptop.deviceId}`, 'DeviceRevoked'],
      [`device/${devices.laptop.deviceId}`, 'DeviceDeleted'],
    ]);
    expect(JSON.parse(events[1]!.meta)).toMatchObject({ actor: 'admin:root' });
    expect((await me(server, devices.laptop)).statusCode).toBe(401);
    expect((await me(server, devices.phone)).statusCode).toBe(200);
    const get = api(server, client, 'GET');
    expect((await get('/admin/api/keys')).json<{ id: string }[]>().map((k) => k.id)).toEqual([
      devices.desktop.deviceId,
      devices.phone.deviceId,
    ]);
    expect((await get('/admin/api/devices')).headers['x-total-count']).toBe('2');
    const own = (await user.get('/api/v1/user/devices')).json<{ id: string }[]>();
    expect(own.map((d) => d.id)).toEqual([devices.phone.deviceId]);
    expect((await client.get('/admin/devices')).body).not.toContain('>laptop<');
  });

  it('deletes a revoked device with one event', async () => {
    const { server, devices } = await someDevices();
    server.runtime.devices.revoke(devices.phone.deviceId, devices.phone.userId, 'user', {
      actor: 'test',
    });
    const client = await adminBrowser(server);
    const head = logHead(server);
    const res = await api(server, client, 'DELETE')(`/admin/api/keys/${devices.phone.deviceId}`);
    expect(res.json()).toEqual({ status: 'deleted' });
    expect(logHead(server)).toBe(head + 1);
  });

  it('answers 200 for an unknown or already deleted id, changing nothing', async () => {
    const { server, devices } = await someDevices();
    const client = await adminBrowser(server);
    const del = api(server, client, 'DELETE');
    expect((await del(`/admin/api/keys/${devices.phone.deviceId}`)).statusCode).toBe(200);
    const head = logHead(server);
    for (const id of [devices.phone.deviceId, 'dev_nope', '%00', 'x'.repeat(100)]) {
      const res = await del(`/admin/api/keys/${id}`);
      expect(res.statusCode, id).toBe(200);
      expect(res.json()).toEqual({ status: 'deleted' });
    }
    expect(logHead(server)).toBe(head);
  });

  it('refuses without CSRF (403) or a session (302), changing nothing', async () => {
    const { server, devices } = await someDevices();
    const client = await adminBrowser(server);
    const user = new WebClient(server.app, { 'accept-language': 'en' });
    await user.submit('/login', '/login', { username: 'alice', password: PASSWORD });
    const head = logHead(server);
    const url = `/admin/api/keys/${devices.laptop.deviceId}`;
    const del = api(server, client, 'DELETE');
    for (const headers of [
      { 'x-csrf-token': '' } as Record<string, string>,
      { 'x-csrf-token': 'f'.repeat(64) },
      { origin: 'https://evil.example' },
    ]) {
      const res = await del(url, headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(403);
      expect(res.json()).toMatchObject({ code: 'csrf_invalid' });
    }
    for (const cookie of ['', user.cookieHeader()]) {
      const res = await del(url, { cookie });
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('/admin/login');
    }
    for (const path of ['/admin/api/devices', '/admin/api/keys']) {
      const res = await server.app.inject({ method: 'GET', url: path });
      expect(res.statusCode, path).toBe(302);
      expect(res.headers.location).toBe('/admin/login');
    }
    expect(logHead(server)).toBe(head);
    expect((await me(server, devices.laptop)).statusCode).toBe(200);
  });
});

describe('DevicePaired v1', () => {
  it('upcasts to v2 with no hint; the keys list shows it as ""', async () => {
    const v1 = {
      deviceId: 'dev_1',
      userId: 'u1',
      vaultId: 'v',
      name: 'old laptop',
      clientVersion: 'verstak-desktop/v2',
      tokenHash: 'a'.repeat(64),
      via: 'pair',
    };
    expect(CATALOGUE.decode('DevicePaired', 1, v1)).toEqual({ ...v1, tokenHint: null });
    expect(CATALOGUE.encode('DevicePaired', { ...v1, tokenHint: 'abcdefgh…wxyz' })).toEqual({
      schemaVersion: 2,
      data: { ...v1, tokenHint: 'abcdefgh…wxyz' },
    });
    const { server, devices } = await someDevices();
    // The projection keeps what the upcast event says.
    server.runtime.db
      .prepare('UPDATE devices SET token_hint = NULL WHERE id = ?')
      .run(devices.laptop.deviceId);
    const client = await adminBrowser(server);
    const keys = (await api(server, client, 'GET')('/admin/api/keys')).json<
      { id: string; token_hint: string }[]
    >();
    expect(keys.find((k) => k.id === devices.laptop.deviceId)?.token_hint).toBe('');
  });
});
