import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import {
  addUser,
  pair,
  pushAccepted,
  PASSWORD,
  textOp,
  type TestServer,
} from '../helpers/sync-app.js';
import { hiddenFields, WebClient } from './browser-client.js';
import { adminBrowser, startAdminServer } from './admin-rig.js';

// The console's devices and vaults lists and the vault detail (CONTRACT.md §9): read-only,
// over the projections and device_activity, never a payload.

const namesOf = (html: string) =>
  [...html.matchAll(/<th scope="row" class="device-name">([^<]*)<\/th>/g)].map((m) => m[1]);
const vaultsOf = (html: string) =>
  [...html.matchAll(/<th scope="row" class="vault-id"><a href="[^"]*">([^<]*)<\/a><\/th>/g)].map(
    (m) => m[1],
  );
/** What a reader sees: the page without its tags and their attributes. */
const textOf = (html: string) => html.replace(/<[^>]*>/g, ' ');
const statOf = (html: string, name: string) =>
  new RegExp(`data-stat="${name}">([^<]*)<`).exec(html)?.[1];

/**
 * alice: laptop (vault-a), phone (vault-b, revoked), tablet (vault-a, v3);
 * bob: desktop (vault-a). Paired a minute apart, in that order.
 */
async function someDevices() {
  const clock = createManualClock('2026-12-04T10:00:00.000Z');
  const server = await startAdminServer({ clock });
  const ids = { alice: await addUser(server, 'alice'), bob: await addUser(server, 'bob') };
  const devices: Record<string, Awaited<ReturnType<typeof pair>>> = {};
  for (const [name, user, vault] of [
    ['laptop', 'alice', 'vault-a'],
    ['phone', 'alice', 'vault-b'],
    ['tablet', 'alice', 'vault-a'],
    ['desktop', 'bob', 'vault-a'],
  ] as const) {
    clock.advance(60_000);
    devices[name] = await pair(server, user, vault, name);
  }
  server.runtime.db
    .prepare('UPDATE devices SET client_version = ? WHERE id = ?')
    .run('verstak-desktop/v3', devices.tablet!.deviceId);
  server.runtime.devices.revoke(devices.phone!.deviceId, ids.alice, 'user', { actor: 'test' });
  clock.advance(60_000);
  await pushAccepted(server, devices.laptop!, [textOp('op-1', 'a.md', 'one')]);
  clock.advance(60_000);
  await pushAccepted(server, devices.desktop!, [textOp('op-2', 'b.md', 'two')]);
  await pushAccepted(server, devices.desktop!, [textOp('op-3', 'c.md', 'three')]);
  return { server, clock, ids, devices };
}

const activity = (server: TestServer, deviceId: string, at: string) =>
  server.runtime.db
    .prepare(
      `INSERT INTO device_activity (device_id, last_seen, ip) VALUES (?, ?, '10.0.0.1')
       ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen`,
    )
    .run(deviceId, at);

describe('the devices and vaults pages', () => {
  it('render in both locales with their nav item current', async () => {
    const { server } = await someDevices();
    for (const [locale, devicesTitle, vaultsTitle] of [
      ['en', 'Devices', 'Vaults'],
      ['ru', 'Устройства', 'Хранилища'],
    ] as const) {
      const client = await adminBrowser(server, { 'accept-language': locale });
      const devices = await client.get('/admin/devices');
      expect(devices.statusCode).toBe(200);
      expect(devices.body).toContain(`<h1>${devicesTitle}</h1>`);
      expect(devices.body).toContain(`<a href="/admin/devices" aria-current="page">`);
      expect(devices.body).toContain(`<a href="/admin/vaults">`);
      const vaults = await client.get('/admin/vaults');
      expect(vaults.statusCode).toBe(200);
      expect(vaults.body).toContain(`<h1>${vaultsTitle}</h1>`);
      expect(vaults.body).toContain(`<a href="/admin/vaults" aria-current="page">`);
      expect(vaults.body).toContain(`<a href="/admin/devices">`);
    }
  });

  it('show an empty state', async () => {
    const server = await startAdminServer();
    const client = await adminBrowser(server);
    expect((await client.get('/admin/devices')).body).toContain('No devices are paired yet.');
    expect((await client.get('/admin/vaults')).body).toContain('No vault has synced yet.');
    expect((await client.get('/admin/devices?q=zzz')).body).toContain('No devices match.');
  });
});

describe('the devices list', () => {
  it('searches, filters, sorts on whitelisted columns and pages', async () => {
    const { server, ids, devices } = await someDevices();
    activity(server, devices.tablet!.deviceId, '2026-12-04T11:00:00.000Z');
    activity(server, devices.laptop!.deviceId, '2026-12-04T10:30:00.000Z');
    activity(server, devices.desktop!.deviceId, '2026-12-04T10:45:00.000Z');
    const client = await adminBrowser(server);
    const list = async (query: string) => {
      const res = await client.get(`/admin/devices?${query}`);
      expect(res.statusCode, query).toBe(200);
      return namesOf(res.body);
    };

    // Default: newest paired first.
    expect(await list('')).toEqual(['desktop', 'tablet', 'phone', 'laptop']);
    expect(await list('sort=created&order=asc')).toEqual(['laptop', 'phone', 'tablet', 'desktop']);
    expect(await list('sort=name&order=asc')).toEqual(['desktop', 'laptop', 'phone', 'tablet']);
    expect(await list('sort=user&order=desc&per_page=1')).toEqual(['desktop']);
    expect(await list('sort=last_seen&order=desc&status=active')).toEqual([
      'tablet',
      'desktop',
      'laptop',
    ]);
    // A sort or order outside the whitelists is the default, never SQL.
    expect(await list('sort=d.id;DROP%20TABLE%20devices&order=sideways')).toEqual([
      'desktop',
      'tablet',
      'phone',
      'laptop',
    ]);

    expect(await list('q=LAP')).toEqual(['laptop']);
    expect(await list('q=bob')).toEqual(['desktop']);
    expect(await list('q=v3')).toEqual(['tablet']);
    expect(await list('q=vault-b')).toEqual(['phone']);
    expect(await list(`q=${'x'.repeat(400)}`)).toEqual([]);
    expect(await list('status=revoked')).toEqual(['phone']);
    expect(await list('status=active&sort=name&order=asc')).toEqual([
      'desktop',
      'laptop',
      'tablet',
    ]);
    expect(await list(`user=${ids.bob}`)).toEqual(['desktop']);
    expect(await list(`user=${ids.alice}&vault=vault-a&sort=name&order=asc`)).toEqual([
      'laptop',
      'tablet',
    ]);
    expect(await list('version=verstak-desktop/v3')).toEqual(['tablet']);
    expect(await list('version=verstak-desktop')).toEqual([]);

    expect(await list('sort=name&order=asc&per_page=3')).toEqual(['desktop', 'laptop', 'phone']);
    expect(await list('sort=name&order=asc&per_page=3&page=2')).toEqual(['tablet']);
    expect(await list('sort=name&order=asc&per_page=500')).toHaveLength(4);
    expect(await list('page=abc&per_page=-1')).toHaveLength(4);
    const first = (await client.get('/admin/devices?sort=name&order=asc&per_page=3')).body;
    expect(first).toContain('Page 1 of 2');
    expect(first).toContain(
      'href="/admin/devices?sort=name&#38;order=asc&#38;page=2&#38;per_page=3"',
    );
    expect(first).toContain('3 of 4 devices');
  });

  it('shows owner, vault, version, status and humanised dates', async () => {
    const { server, devices } = await someDevices();
    activity(server, devices.laptop!.deviceId, '2026-12-04T10:04:00.000Z');
    const client = await adminBrowser(server);
    const html = (await client.get('/admin/devices?q=laptop')).body;
    expect(html).toContain('<td class="device-owner" data-label="Owner">alice</td>');
    expect(html).toContain('vault-a</a>');
    expect(html).toContain(
      '<td class="device-version" data-label="Client version">verstak-desktop/v2</td>',
    );
    expect(html).toContain('>Active</span>');
    expect(html).toContain('<time datetime="2026-12-04T10:04:00.000Z">');
    expect(html).toContain('<time datetime="2026-12-04T10:01:00.000Z">');
    const revoked = (await client.get('/admin/devices?status=revoked')).body;
    expect(revoked).toContain('>Revoked</span>');
    // Each row has its action: Revoke while active, Delete once revoked (admin-devices tests).
    expect(revoked).toContain('value="delete-device"');
    expect(revoked).not.toContain('value="revoke-device"');
    expect(html).toContain('value="revoke-device"');
  });
});

describe('the vaults list', () => {
  it('one row per user and vault, with counts; searches, sorts and pages', async () => {
    const { server, ids } = await someDevices();
    const client = await adminBrowser(server);
    const list = async (query: string) => {
      const res = await client.get(`/admin/vaults?${query}`);
      expect(res.statusCode, query).toBe(200);
      return res.body;
    };
    // Only vaults that synced are in the projection: alice/vault-a and bob/vault-a.
    const all = await list('sort=user&order=asc');
    expect(vaultsOf(all)).toEqual(['vault-a', 'vault-a']);
    expect(
      [...all.matchAll(/<td class="vault-owner" data-label="Owner">([^<]*)</g)].map((m) => m[1]),
    ).toEqual(['alice', 'bob']);
    expect(all).toContain(`href="/admin/vault/?user=${ids.alice}&#38;vault=vault-a"`);
    const bobRow = all.split('<tr>').find((r) => r.includes('>bob<'))!;
    // ops 2, head sequence, 1 active device, 0 bytes
    expect(
      [...bobRow.matchAll(/<td data-label="Operations">([^<]*)<\/td>/g)].map((m) => m[1])[0],
    ).toBe('2');
    expect(bobRow).toContain('<td data-label="Active devices">1</td>');

    expect(vaultsOf(await list('sort=ops&order=desc&per_page=1'))).toEqual(['vault-a']);
    expect(await list('sort=ops&order=desc&per_page=1')).toContain('>bob<');
    expect(await list('sort=ops&order=desc&per_page=1&page=2')).toContain('>alice<');
    expect(await list('sort=ops&order=desc&per_page=1&page=2')).not.toContain('>bob<');
    expect(await list('q=BOB')).toContain('1 of 1 vaults');
    expect(await list(`user=${ids.alice}`)).toContain('1 of 1 vaults');
    expect(await list('q=nothing')).toContain('No vaults match.');
    expect(await list('sort=bogus&order=x')).toContain('2 of 2 vaults');
  });
});

describe('the vault detail', () => {
  it('shows the figures and devices, never payloads', async () => {
    const { server, ids, devices } = await someDevices();
    const marker = 'PAYLOAD-MARKER-7f3a9c';
    await pushAccepted(server, devices.tablet!, [
      textOp(`op-${marker}`, `${marker}.md`, `secret ${marker}`),
    ]);
    const client = await adminBrowser(server);
    const res = await client.get(`/admin/vault/?user=${ids.alice}&vault=vault-a`);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<a href="/admin/vaults" aria-current="page">');
    expect(statOf(res.body, 'ops')).toBe('2');
    expect(statOf(res.body, 'active-devices')).toBe('2');
    expect(statOf(res.body, 'revoked-devices')).toBe('0');
    expect(statOf(res.body, 'blobs')).toBe('0');
    expect(namesOf(res.body)).toEqual(['laptop', 'tablet']);
    expect(res.body).not.toContain(marker);
    // The id is the row form's hidden field, never text on the page.
    expect(textOf(res.body)).not.toContain(devices.laptop!.deviceId);
    expect(hiddenFields(res.body).id).toBe(devices.laptop!.deviceId);

    const ru = await adminBrowser(server, { 'accept-language': 'ru' });
    const ruPage = await ru.get(`/admin/vault/?user=${ids.alice}&vault=vault-a`);
    expect(ruPage.statusCode).toBe(200);
    expect(ruPage.body).toContain('Устройства этого хранилища');
    expect(ruPage.body).not.toContain(marker);
  });

  it('answers 400 without a user or vault, 404 for an unknown one', async () => {
    const { server, ids } = await someDevices();
    const client = await adminBrowser(server);
    for (const url of [
      '/admin/vault/',
      `/admin/vault/?user=${ids.alice}`,
      '/admin/vault/?vault=vault-a',
    ]) {
      const res = await client.get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('The address must name a user and a vault.');
    }
    for (const url of [
      `/admin/vault/?user=${ids.alice}&vault=vault-b`,
      `/admin/vault/?user=${ids.bob}&vault=nope`,
      '/admin/vault/?user=nobody&vault=vault-a',
    ]) {
      const res = await client.get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.body).toContain('There is no such vault.');
    }
  });
});

describe('hostile names', () => {
  it('are escaped on the devices and vaults pages and the vault detail', async () => {
    const { server, ids, devices } = await someDevices();
    const name = '<script>alert(1)</script>';
    const vault = '"><img src=x onerror=alert(2)>';
    // Pairing checks names, but rows migrated from the reference server never were.
    const db = server.runtime.db;
    db.prepare('UPDATE devices SET name = ?, vault_id = ? WHERE id = ?').run(
      name,
      vault,
      devices.desktop!.deviceId,
    );
    db.prepare('UPDATE vaults SET vault_id = ? WHERE user_id = ?').run(vault, ids.bob);
    const client = await adminBrowser(server);
    const detail = `/admin/vault/?user=${ids.bob}&vault=${encodeURIComponent(vault)}`;
    for (const url of [
      '/admin/devices',
      `/admin/devices?q=${encodeURIComponent(name)}`,
      `/admin/devices?vault=${encodeURIComponent(vault)}`,
      '/admin/vaults',
      `/admin/vaults?q=${encodeURIComponent(vault)}`,
      detail,
    ]) {
      const res = await client.get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.body, url).not.toContain('<script>');
      expect(res.body, url).not.toContain('<img src=x');
      expect(res.body, url).toContain('&#34;&#62;&#60;img src=x onerror=alert(2)&#62;');
    }
    expect((await client.get('/admin/devices')).body).toContain(
      '&#60;script&#62;alert(1)&#60;/script&#62;',
    );
    expect((await client.get(detail)).body).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  });
});

describe('access', () => {
  it('sends anonymous and user sessions to /admin/login', async () => {
    const { server, ids } = await someDevices();
    const anonymous = new WebClient(server.app, { 'accept-language': 'en' });
    const user = new WebClient(server.app, { 'accept-language': 'en' });
    await user.submit('/login', '/login', { username: 'alice', password: PASSWORD });
    expect((await user.get('/dashboard')).statusCode).toBe(200);
    for (const client of [anonymous, user]) {
      for (const url of [
        '/admin/devices',
        '/admin/vaults',
        `/admin/vault/?user=${ids.alice}&vault=vault-a`,
        '/admin/vault/',
      ]) {
        const res = await client.get(url);
        expect(res.statusCode, url).toBe(302);
        expect(res.headers.location).toBe('/admin/login');
      }
    }
  });
});
