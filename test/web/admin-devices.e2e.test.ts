import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import {
  addUser,
  pair,
  PASSWORD,
  pushAccepted,
  textOp,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';
import { hiddenFields, WebClient } from './browser-client.js';
import { ADMIN_PASSWORD, adminBrowser, logHead, startAdminServer } from './admin-rig.js';

// The devices page's re-authenticated actions (CONTRACT.md §11): revoke-device through the
// device service, delete-device of a revoked device only, and every refusal changing nothing.

/** alice: laptop and phone (vault-a); bob: desktop (vault-b). Paired a minute apart. */
async function someDevices() {
  const clock = createManualClock('2026-12-04T10:00:00.000Z');
  const server = await startAdminServer({ clock });
  const ids = { alice: await addUser(server, 'alice'), bob: await addUser(server, 'bob') };
  const devices: Record<string, Device> = {};
  for (const [name, user, vault] of [
    ['laptop', 'alice', 'vault-a'],
    ['phone', 'alice', 'vault-a'],
    ['desktop', 'bob', 'vault-b'],
  ] as const) {
    clock.advance(60_000);
    devices[name] = await pair(server, user, vault, name);
  }
  return { server, clock, ids, devices: devices as Record<'laptop' | 'phone' | 'desktop', Device> };
}

const namesOf = (html: string) =>
  [...html.matchAll(/<th scope="row" class="device-name">([^<]*)<\/th>/g)].map((m) => m[1]);

/** The hidden fields of the row form of one device on a page. */
async function rowFields(client: WebClient, page: string, name: string) {
  const html = (await client.get(page)).body;
  const row = html
    .split('<tr>')
    .find((r) => r.includes(`<th scope="row" class="device-name">${name}</th>`));
  expect(row, `row of ${name}`).toBeDefined();
  return { fields: hiddenFields(row!), row: row! };
}

const act = async (client: WebClient, page: string, name: string, action: string) =>
  client.post('/admin/action', {
    ...(await rowFields(client, page, name)).fields,
    action,
    password: ADMIN_PASSWORD,
  });

const deviceRow = (server: TestServer, id: string) =>
  server.runtime.db.prepare('SELECT id, revoked_at FROM devices WHERE id = ?').get(id) as
    { id: string; revoked_at: string | null } | undefined;

const lastEvents = (server: TestServer, n: number) =>
  (
    server.runtime.db
      .prepare('SELECT stream, type, data, meta FROM events ORDER BY seq DESC LIMIT ?')
      .all(n) as { stream: string; type: string; data: string; meta: string }[]
  )
    .reverse()
    .map((e) => ({
      stream: e.stream,
      type: e.type,
      data: JSON.parse(e.data) as unknown,
      actor: (JSON.parse(e.meta) as { actor: string }).actor,
    }));

const me = (server: TestServer, device: Device) =>
  server.app.inject({
    method: 'GET',
    url: '/api/client/me',
    headers: { authorization: `Bearer ${device.token}` },
  });

/** What a reader sees: the page without its tags and their attributes. */
const textOf = (html: string) => html.replace(/<[^>]*>/g, ' ');

describe('the devices page', () => {
  it('offers Revoke on an active device and Delete on a revoked one, with a password field', async () => {
    const { server, ids, devices } = await someDevices();
    server.runtime.devices.revoke(devices.phone.deviceId, ids.alice, 'user', { actor: 'test' });
    const client = await adminBrowser(server);
    const laptop = await rowFields(client, '/admin/devices', 'laptop');
    expect(laptop.fields).toMatchObject({
      id: devices.laptop.deviceId,
      csrf_token: client.cookies.get('csrf_token'),
      back: '/admin/devices?sort=created&order=desc&page=1&per_page=25',
    });
    expect(laptop.row).toContain('value="revoke-device"');
    expect(laptop.row).not.toContain('value="delete-device"');
    expect(laptop.row).toMatch(/<input id="pw-[^"]+" name="password" type="password"/);
    const phone = await rowFields(client, '/admin/devices', 'phone');
    expect(phone.row).toContain('value="delete-device"');
    expect(phone.row).not.toContain('value="revoke-device"');
    // Ids are form fields, never text.
    const html = (await client.get('/admin/devices')).body;
    for (const d of Object.values(devices)) expect(textOf(html)).not.toContain(d.deviceId);
  });
});

describe('revoke-device', () => {
  it('revokes through the device service: the token answers 401, the list says so', async () => {
    const { server, ids, devices } = await someDevices();
    expect((await me(server, devices.laptop)).statusCode).toBe(200);
    const client = await adminBrowser(server);
    const res = await act(client, '/admin/devices?q=lap', 'laptop', 'revoke-device');
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe(
      '/admin/devices?q=lap&sort=created&order=desc&page=1&per_page=25&flash=device_revoked&who=laptop',
    );
    const after = await client.get(res.headers.location!);
    expect(after.body).toContain('Device laptop is revoked: its token no longer works.');
    expect(after.body).toContain('>Revoked</span>');
    // The list's own links do not carry the flash along.
    expect(after.body).not.toMatch(/href="[^"]*flash=/);

    expect(deviceRow(server, devices.laptop.deviceId)?.revoked_at).toBe('2026-12-04T10:03:00.000Z');
    expect(lastEvents(server, 1)).toEqual([
      {
        stream: `device/${devices.laptop.deviceId}`,
        type: 'DeviceRevoked',
        data: { deviceId: devices.laptop.deviceId, userId: ids.alice, by: 'admin' },
        actor: 'admin:root',
      },
    ]);
    const refused = await me(server, devices.laptop);
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: 'unauthorized' });
    expect((await me(server, devices.phone)).statusCode).toBe(200);

    // Russian flash.
    const ru = await adminBrowser(server, { 'accept-language': 'ru' });
    expect((await ru.get(res.headers.location!)).body).toContain(
      'Устройство laptop отозвано: его токен больше не действует.',
    );
  });

  it('revoking a revoked device writes nothing', async () => {
    const { server, ids, devices } = await someDevices();
    const client = await adminBrowser(server);
    const { fields } = await rowFields(client, '/admin/devices', 'laptop');
    server.runtime.devices.revoke(devices.laptop.deviceId, ids.alice, 'user', { actor: 'test' });
    const head = logHead(server);
    const res = await client.post('/admin/action', {
      ...fields,
      action: 'revoke-device',
      password: ADMIN_PASSWORD,
    });
    expect(res.statusCode).toBe(303);
    expect(logHead(server)).toBe(head);
  });
});

describe('delete-device', () => {
  it('deletes a revoked device: gone from the lists, the projections and the user API', async () => {
    const { server, devices } = await someDevices();
    await pushAccepted(server, devices.laptop, [textOp('op-1', 'a.md', 'one')]);
    const user = new WebClient(server.app, { 'accept-language': 'en' });
    await user.submit('/login', '/login', { username: 'alice', password: PASSWORD });
    const userIds = async () =>
      (await user.get('/api/v1/user/devices')).json<{ id: string }[]>().map((d) => d.id);
    expect(await userIds()).toContain(devices.laptop.deviceId);

    const client = await adminBrowser(server);
    expect((await act(client, '/admin/devices', 'laptop', 'revoke-device')).statusCode).toBe(303);
    const res = await act(client, '/admin/devices?status=revoked', 'laptop', 'delete-device');
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe(
      '/admin/devices?status=revoked&sort=created&order=desc&page=1&per_page=25&flash=device_deleted&who=laptop',
    );
    const after = await client.get(res.headers.location!);
    expect(after.body).toContain('Device laptop is deleted.');
    expect(namesOf(after.body)).toEqual([]);

    expect(deviceRow(server, devices.laptop.deviceId)).toBeUndefined();
    const side = server.runtime.db
      .prepare('SELECT COUNT(*) AS n FROM device_activity WHERE device_id = ?')
      .get(devices.laptop.deviceId);
    expect(side).toEqual({ n: 0 });
    expect(lastEvents(server, 1)).toMatchObject([
      {
        stream: `device/${devices.laptop.deviceId}`,
        type: 'DeviceDeleted',
        data: { deviceId: devices.laptop.deviceId, by: 'admin' },
        actor: 'admin:root',
      },
    ]);
    expect(namesOf((await client.get('/admin/devices')).body)).toEqual(['desktop', 'phone']);
    expect(await userIds()).toEqual([devices.phone.deviceId]);
    expect((await me(server, devices.laptop)).statusCode).toBe(401);
    // The vault's operations stay: deleting a device is not deleting what it synced.
    const ops = server.runtime.db
      .prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'OperationPushed'")
      .get();
    expect(ops).toEqual({ n: 1 });
  });

  it('rebuilding the projections from the log gives the same rows', async () => {
    const { server, devices } = await someDevices();
    const client = await adminBrowser(server);
    await act(client, '/admin/devices', 'phone', 'revoke-device');
    await act(client, '/admin/devices', 'phone', 'delete-device');
    const rows = () => server.runtime.db.prepare('SELECT * FROM devices ORDER BY id').all();
    const before = rows();
    expect(before).toHaveLength(2);
    server.runtime.projector.rebuildAll();
    expect(rows()).toEqual(before);
    expect(deviceRow(server, devices.phone.deviceId)).toBeUndefined();
  });

  it('refuses an active device (409) and an unknown one (404), changing nothing', async () => {
    const { server, devices } = await someDevices();
    const client = await adminBrowser(server);
    const { fields } = await rowFields(client, '/admin/devices', 'laptop');
    const head = logHead(server);
    const active = await client.post('/admin/action', {
      ...fields,
      action: 'delete-device',
      password: ADMIN_PASSWORD,
    });
    expect(active.statusCode).toBe(409);
    expect(active.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(active.body).toContain('Only a revoked device can be deleted.');
    for (const action of ['delete-device', 'revoke-device']) {
      const unknown = await client.post('/admin/action', {
        ...fields,
        id: 'dev_nope',
        action,
        password: ADMIN_PASSWORD,
      });
      expect(unknown.statusCode, action).toBe(404);
      expect(unknown.body).toContain('There is no such device.');
      const empty = await client.post('/admin/action', {
        ...fields,
        id: '',
        action,
        password: ADMIN_PASSWORD,
      });
      expect(empty.statusCode, action).toBe(404);
    }
    expect(logHead(server)).toBe(head);
    expect(deviceRow(server, devices.laptop.deviceId)?.revoked_at).toBeNull();
  });

  it('a deleted device is unknown afterwards', async () => {
    const { server } = await someDevices();
    const client = await adminBrowser(server);
    await act(client, '/admin/devices', 'phone', 'revoke-device');
    const { fields } = await rowFields(client, '/admin/devices', 'phone');
    const first = await client.post('/admin/action', {
      ...fields,
      action: 'delete-device',
      password: ADMIN_PASSWORD,
    });
    expect(first.statusCode).toBe(303);
    const head = logHead(server);
    for (const action of ['delete-device', 'revoke-device']) {
      const again = await client.post('/admin/action', {
        ...fields,
        action,
        password: ADMIN_PASSWORD,
      });
      expect(again.statusCode, action).toBe(404);
    }
    expect(logHead(server)).toBe(head);
  });
});

describe('refusals', () => {
  it('a wrong or missing password, no or a foreign CSRF token: 403, nothing written', async () => {
    const { server, devices } = await someDevices();
    const client = await adminBrowser(server);
    const { fields } = await rowFields(client, '/admin/devices', 'laptop');
    server.runtime.devices.revoke(devices.phone.deviceId, devices.phone.userId, 'user', {
      actor: 'test',
    });
    const phone = (await rowFields(client, '/admin/devices', 'phone')).fields;
    const head = logHead(server);
    for (const [action, form] of [
      ['revoke-device', fields],
      ['delete-device', phone],
    ] as const) {
      const wrong = await client.post('/admin/action', {
        ...form,
        action,
        password: 'not the password',
      });
      expect(wrong.statusCode, action).toBe(403);
      expect(wrong.body).toContain('The password is wrong; nothing was changed.');
      expect((await client.post('/admin/action', { ...form, action })).statusCode).toBe(403);
      const { csrf_token: _dropped, ...noCsrf } = form;
      const missing = await client.post('/admin/action', {
        ...noCsrf,
        action,
        password: ADMIN_PASSWORD,
      });
      expect(missing.statusCode, action).toBe(403);
      expect(missing.json()).toMatchObject({ code: 'csrf_invalid' });
      const foreign = await client.post('/admin/action', {
        ...form,
        csrf_token: 'f'.repeat(64),
        action,
        password: ADMIN_PASSWORD,
      });
      expect(foreign.statusCode, action).toBe(403);
      const crossSite = await client.post(
        '/admin/action',
        { ...form, action, password: ADMIN_PASSWORD },
        { origin: 'https://evil.example' },
      );
      expect(crossSite.statusCode, action).toBe(403);
    }
    expect(logHead(server)).toBe(head);
    expect(deviceRow(server, devices.laptop.deviceId)?.revoked_at).toBeNull();
    expect(deviceRow(server, devices.phone.deviceId)).toBeDefined();
    expect((await me(server, devices.laptop)).statusCode).toBe(200);
  });

  it('an anonymous or user browser is sent to /admin/login', async () => {
    const { server, devices } = await someDevices();
    const user = new WebClient(server.app, { 'accept-language': 'en' });
    await user.submit('/login', '/login', { username: 'alice', password: PASSWORD });
    const head = logHead(server);
    for (const client of [new WebClient(server.app), user]) {
      const res = await client.post('/admin/action', {
        id: devices.laptop.deviceId,
        action: 'revoke-device',
        password: ADMIN_PASSWORD,
      });
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('/admin/login');
    }
    expect(logHead(server)).toBe(head);
  });

  it('returns only to the devices list', async () => {
    const { server } = await someDevices();
    const client = await adminBrowser(server);
    for (const [back, name] of [
      ['https://evil.example/admin/devices', 'laptop'],
      ['//evil.example', 'phone'],
      ['/admin/users', 'desktop'],
    ] as const) {
      const { fields } = await rowFields(client, '/admin/devices', name);
      const res = await client.post('/admin/action', {
        ...fields,
        back,
        action: 'revoke-device',
        password: ADMIN_PASSWORD,
      });
      expect(res.headers.location, back).toBe(`/admin/devices?flash=device_revoked&who=${name}`);
    }
  });
});

describe('the vault detail', () => {
  it('offers the same actions, returning to the devices of that vault', async () => {
    const { server, ids, devices } = await someDevices();
    await pushAccepted(server, devices.laptop, [textOp('op-1', 'a.md', 'one')]);
    const client = await adminBrowser(server);
    const page = `/admin/vault/?user=${ids.alice}&vault=vault-a`;
    const res = await act(client, page, 'phone', 'revoke-device');
    expect(res.headers.location).toBe(
      `/admin/devices?user=${ids.alice}&vault=vault-a&flash=device_revoked&who=phone`,
    );
    expect(deviceRow(server, devices.phone.deviceId)?.revoked_at).not.toBeNull();
    expect(textOf((await client.get(page)).body)).not.toContain(devices.phone.deviceId);
  });
});

describe('the flash', () => {
  it('names only known notes; anything else shows none', async () => {
    const { server } = await someDevices();
    const client = await adminBrowser(server);
    for (const flash of ['constructor', '__proto__', 'toString', 'blocked', 'x']) {
      const res = await client.get(`/admin/devices?flash=${flash}&who=laptop`);
      expect(res.statusCode, flash).toBe(200);
      expect(res.body, flash).not.toContain('class="flash');
    }
  });
});

describe('hostile names', () => {
  it('are escaped in the flash and in the buttons', async () => {
    const { server, devices } = await someDevices();
    const name = '<img src=x onerror=alert(1)>';
    server.runtime.db
      .prepare('UPDATE devices SET name = ? WHERE id = ?')
      .run(name, devices.desktop.deviceId);
    const client = await adminBrowser(server);
    const res = await act(
      client,
      '/admin/devices',
      '&#60;img src=x onerror=alert(1)&#62;',
      'revoke-device',
    );
    expect(res.statusCode).toBe(303);
    const after = (await client.get(res.headers.location!)).body;
    expect(after).not.toContain('<img src=x');
    expect(after).toContain('Device &#60;img src=x onerror=alert(1)&#62; is revoked');
  });
});
