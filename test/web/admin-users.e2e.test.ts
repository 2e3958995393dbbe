import { describe, expect, it } from 'vitest';
import {
  addUser,
  pair,
  PASSWORD,
  pushAccepted,
  textOp,
  type TestServer,
} from '../helpers/sync-app.js';
import { hiddenFields, WebClient } from './browser-client.js';
import { ADMIN_PASSWORD, adminBrowser, logHead, startAdminServer } from './admin-rig.js';
import { userFields, userPageOf } from './admin-users-rig.js';

// The console's overview, users list and user page (CONTRACT.md §9) and the page's
// re-authenticated user actions (§11): block/unblock through the user service, confirm,
// and the refusals.

const statOf = (html: string, name: string) =>
  new RegExp(`data-stat="${name}">([^<]*)<`).exec(html)?.[1];

const usernamesOf = (html: string) =>
  [...html.matchAll(/<th scope="row" class="user-name"><a href="[^"]*">([^<]*)<\/a><\/th>/g)].map(
    (m) => m[1],
  );

async function someUsers(server: TestServer) {
  const ids: Record<string, string> = {};
  for (const [name, confirmed] of [
    ['alice', true],
    ['bob', true],
    ['carol', false],
    ['dave', true],
  ] as const) {
    ids[name] = await addUser(server, name, confirmed);
  }
  return ids;
}

describe('the admin overview', () => {
  it('counts users, devices and vaults from the projections, and warns', async () => {
    const server = await startAdminServer();
    const ids = await someUsers(server);
    const laptop = await pair(server, 'alice', 'vault-a');
    await pair(server, 'alice', 'vault-b', 'phone');
    await pair(server, 'bob', 'vault-a');
    server.runtime.devices.revoke(laptop.deviceId, ids.alice!, 'user', { actor: 'test' });
    server.runtime.users.setBlocked(ids.dave!, true, { actor: 'test' });

    const client = await adminBrowser(server);
    const html = (await client.get('/admin/dashboard')).body;
    expect(statOf(html, 'users')).toBe('4');
    expect(statOf(html, 'active-users')).toBe('2');
    expect(statOf(html, 'blocked-users')).toBe('1');
    expect(statOf(html, 'unconfirmed-users')).toBe('1');
    expect(statOf(html, 'active-devices')).toBe('2');
    expect(statOf(html, 'revoked-devices')).toBe('1');
    expect(statOf(html, 'operations')).toBe('0');
    expect(statOf(html, 'operations-24h')).toBe('0');
    expect(statOf(html, 'blobs')).toBe('0');
    expect(html).toContain('Mail is not configured');
    expect(html).toContain('No public URL is set');
  });
});

describe('the users list', () => {
  it('searches, filters by status, sorts on whitelisted columns and pages', async () => {
    const server = await startAdminServer();
    const ids = await someUsers(server);
    server.runtime.users.setBlocked(ids.dave!, true, { actor: 'test' });
    await addUser(server, 'Алёна');
    const client = await adminBrowser(server);
    const list = async (query: string) =>
      usernamesOf((await client.get(`/admin/users?${query}`)).body);

    expect(await list('sort=username&order=asc')).toEqual([
      'alice',
      'bob',
      'carol',
      'dave',
      'Алёна',
    ]);
    expect(await list('sort=username&order=desc')).toEqual([
      'Алёна',
      'dave',
      'carol',
      'bob',
      'alice',
    ]);
    expect(await list('q=AL&sort=username&order=asc')).toEqual(['alice']);
    expect(await list('q=алё')).toEqual(['Алёна']);
    expect(await list('q=bob%40example')).toEqual(['bob']);
    expect(await list('status=blocked')).toEqual(['dave']);
    expect(await list('status=unconfirmed')).toEqual(['carol']);
    expect(await list('status=active&sort=username&order=asc')).toEqual(['alice', 'bob', 'Алёна']);
    // An unknown sort or order falls back to the default (newest first), never into the SQL.
    expect(await list('sort=password_hash;drop&order=sideways')).toEqual([
      'Алёна',
      'dave',
      'carol',
      'bob',
      'alice',
    ]);
    const first = await client.get('/admin/users?sort=username&order=asc&per_page=2');
    expect(usernamesOf(first.body)).toEqual(['alice', 'bob']);
    expect(first.body).toContain('Page 1 of 3');
    expect(first.body).toContain('2 of 5 users');
    const nextHref = /<a href="([^"]+)" rel="next">/.exec(first.body)![1]!.replace(/&#38;/g, '&');
    expect(usernamesOf((await client.get(nextHref)).body)).toEqual(['carol', 'dave']);
    expect(await list('sort=username&order=asc&per_page=2&page=3')).toEqual(['Алёна']);
    // per_page above 100 or nonsense is the default 25.
    expect((await client.get('/admin/users?per_page=1000')).body).toContain('Page 1 of 1');
    expect((await client.get('/admin/users?page=-4&per_page=x')).statusCode).toBe(200);
  });

  it('escapes hostile names and addresses', async () => {
    const server = await startAdminServer();
    const userId = await addUser(server, 'mallory');
    // The address rules refuse markup, but rows migrated from the reference server were
    // never checked: the pages must escape whatever a row holds.
    server.runtime.db
      .prepare('UPDATE users SET email = ?, username = ? WHERE id = ?')
      .run('"><script>alert(1)</script>@example.test', '<i>mallory</i>', userId);
    const client = await adminBrowser(server);
    for (const url of ['/admin/users', '/admin/users?q=%3Cscript%3E', '/admin/dashboard']) {
      const html = (await client.get(url)).body;
      expect(html, url).not.toContain('<script>');
      expect(html, url).not.toContain('<i>mallory');
    }
    const list = (await client.get('/admin/users')).body;
    expect(list).toContain('&#60;i&#62;mallory&#60;/i&#62;');
    expect(list).toContain('&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;@example.test');
    const html = (await client.get('/admin/users?q=%22%3E%3Cb%3E')).body;
    expect(html).toContain('value="&#34;&#62;&#60;b&#62;"');
  });
});

describe('a user page', () => {
  it('shows the account, its devices and vaults, and the management forms', async () => {
    const server = await startAdminServer();
    const ids = await someUsers(server);
    const laptop = await pair(server, 'alice', 'vault-a');
    await pair(server, 'alice', 'vault-b', 'phone');
    await pair(server, 'bob', 'vault-a');
    server.runtime.devices.revoke(laptop.deviceId, ids.alice!, 'user', { actor: 'test' });
    const client = await adminBrowser(server);
    const page = await userPageOf(client, '/admin/users', 'alice');
    expect(page).toBe(`/admin/user/?id=${ids.alice}`);
    const res = await client.get(page);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toContain('no-store');
    const html = res.body;
    expect(html).toContain('<dd class="user-email">alice@example.test</dd>');
    expect(statOf(html, 'devices')).toBe('1');
    // Both devices, the revoked one with its delete form; bob's is not here.
    expect(html.match(/<th scope="row" class="device-name">/g)).toHaveLength(2);
    expect(html).toContain('value="delete-device"');
    expect(html).toContain('value="revoke-device"');
    // Device actions return to the devices list narrowed to this user.
    expect(html).toContain(`name="back" value="/admin/devices?user=${ids.alice}"`);
    for (const action of ['toggle-user', 'edit-user', 'reset-user-password', 'delete-user']) {
      expect(html).toContain(`value="${action}"`);
    }
    // alice is confirmed: no confirm button. carol's page has one.
    expect(html).not.toContain('value="confirm-user"');
    const carol = (await client.get(`/admin/user/?id=${ids.carol}`)).body;
    expect(carol).toContain('value="confirm-user"');
    expect(carol).toContain('No devices are paired yet.');
    expect(carol).toContain('Nothing is synced yet');
  });

  it('links the vaults a user synced to their detail pages', async () => {
    const server = await startAdminServer();
    const ids = await someUsers(server);
    const device = await pair(server, 'alice', 'vault-a');
    await pushAccepted(server, device, [textOp('op-1', 'a.md', 'one')]);
    const client = await adminBrowser(server);
    const html = (await client.get(`/admin/user/?id=${ids.alice}`)).body;
    expect(html).toContain(`<a href="/admin/vault/?user=${ids.alice}&#38;vault=vault-a">`);
    expect(html).toContain(`href="/admin/vaults?user=${ids.alice}"`);
    expect((await client.get(`/admin/user/?id=${ids.bob}`)).body).not.toContain('vault-a');
  });

  it('answers 400 without an id and 404 for an unknown one, changing nothing', async () => {
    const server = await startAdminServer();
    await someUsers(server);
    const client = await adminBrowser(server);
    const head = logHead(server);
    for (const url of ['/admin/user/', '/admin/user/?id=', '/admin/user/?id=%20']) {
      const res = await client.get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.body, url).toContain('The address must name a user.');
    }
    for (const url of ['/admin/user/?id=nobody', '/admin/user/?id=%3Cscript%3E']) {
      const res = await client.get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.body).not.toContain('<script>');
    }
    expect(logHead(server)).toBe(head);
  });

  it('escapes a hostile name and address', async () => {
    const server = await startAdminServer();
    const userId = await addUser(server, 'mallory');
    server.runtime.db
      .prepare('UPDATE users SET email = ?, username = ? WHERE id = ?')
      .run('"><script>alert(1)</script>@example.test', '<i>mallory</i>', userId);
    const client = await adminBrowser(server);
    const html = (await client.get(`/admin/user/?id=${userId}`)).body;
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<i>mallory');
    expect(html).toContain('value="&#60;i&#62;mallory&#60;/i&#62;"');
  });
});

describe('/admin/action', () => {
  it('blocks and unblocks with the admin password: sessions end, device tokens stop', async () => {
    const server = await startAdminServer();
    const ids = await someUsers(server);
    const device = await pair(server, 'alice', 'vault-a');
    const user = new WebClient(server.app, { 'accept-language': 'en' });
    await user.submit('/login', '/login', { username: 'alice', password: PASSWORD });
    expect((await user.get('/dashboard')).statusCode).toBe(200);

    const client = await adminBrowser(server);
    const fields = await userFields(client, '/admin/users?sort=username&order=asc', 'alice');
    expect(fields.id).toBe(ids.alice);
    const res = await client.post('/admin/action', {
      ...fields,
      action: 'toggle-user',
      password: ADMIN_PASSWORD,
    });
    expect(res.statusCode, res.body).toBe(303);
    expect(fields.back).toBe(`/admin/user/?id=${ids.alice}`);
    expect(res.headers.location).toBe(`${fields.back}&flash=blocked&who=alice`);
    const after = await client.get(res.headers.location!);
    expect(after.body).toContain('User alice is blocked');
    expect(
      await server.runtime.db.prepare('SELECT blocked FROM users WHERE id = ?').get(ids.alice),
    ).toEqual({ blocked: 1 });
    expect((await user.get('/dashboard')).headers.location).toBe('/login');
    const me = await server.app.inject({
      method: 'GET',
      url: '/api/client/me',
      headers: { authorization: `Bearer ${device.token}` },
    });
    expect(me.statusCode).toBe(403);

    const again = await client.post('/admin/action', {
      ...fields,
      action: 'toggle-user',
      password: ADMIN_PASSWORD,
    });
    expect(again.headers.location).toBe(`${fields.back}&flash=unblocked&who=alice`);
    expect(
      server.runtime.db.prepare('SELECT blocked FROM users WHERE id = ?').get(ids.alice),
    ).toEqual({ blocked: 0 });
  });

  it('confirms an address', async () => {
    const server = await startAdminServer();
    const ids = await someUsers(server);
    const client = await adminBrowser(server);
    const res = await client.post('/admin/action', {
      ...(await userFields(client, '/admin/users', 'carol')),
      action: 'confirm-user',
      password: ADMIN_PASSWORD,
    });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(`/admin/user/?id=${ids.carol}&flash=confirmed&who=carol`);
    const after = (await client.get(res.headers.location!)).body;
    expect(after).toContain('The e-mail address of carol is confirmed.');
    expect(after).not.toContain('value="confirm-user"');
    expect(
      server.runtime.db.prepare('SELECT confirmed FROM users WHERE id = ?').get(ids.carol),
    ).toEqual({ confirmed: 1 });
  });

  it('refuses a wrong password, a foreign CSRF token, an unknown action or user; nothing is written', async () => {
    const server = await startAdminServer();
    const ids = await someUsers(server);
    const client = await adminBrowser(server);
    const fields = await userFields(client, '/admin/users', 'bob');
    const head = logHead(server);

    const wrong = await client.post('/admin/action', {
      ...fields,
      action: 'toggle-user',
      password: 'not the password',
    });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(wrong.body).toContain('The password is wrong; nothing was changed.');
    const none = await client.post('/admin/action', { ...fields, action: 'toggle-user' });
    expect(none.statusCode).toBe(403);

    const csrf = await client.post('/admin/action', {
      ...fields,
      csrf_token: 'f'.repeat(64),
      action: 'toggle-user',
      password: ADMIN_PASSWORD,
    });
    expect(csrf.statusCode).toBe(403);
    expect(csrf.json()).toMatchObject({ code: 'csrf_invalid' });
    const crossSite = await client.post(
      '/admin/action',
      { ...fields, action: 'toggle-user', password: ADMIN_PASSWORD },
      { origin: 'https://evil.example' },
    );
    expect(crossSite.statusCode).toBe(403);

    const unknown = await client.post('/admin/action', {
      ...fields,
      action: 'drop-tables',
      password: ADMIN_PASSWORD,
    });
    expect(unknown.statusCode).toBe(400);
    const nobody = await client.post('/admin/action', {
      ...fields,
      id: 'no-such-user',
      action: 'toggle-user',
      password: ADMIN_PASSWORD,
    });
    expect(nobody.statusCode).toBe(404);

    expect(logHead(server)).toBe(head);
    expect(
      server.runtime.db.prepare('SELECT blocked FROM users WHERE id = ?').get(ids.bob),
    ).toEqual({ blocked: 0 });
  });

  it('goes back only to the users list or a user page', async () => {
    const server = await startAdminServer();
    const ids = await someUsers(server);
    const client = await adminBrowser(server);
    const fields = await userFields(client, '/admin/users', 'bob');
    for (const back of [
      'https://evil.example/admin/users',
      '//evil.example',
      '/dashboard',
      '/admin/user/?id=x&next=https://evil.example',
      '/admin/user/?id=//evil.example',
      '/admin/user/https://evil.example',
      `/admin/user/?id=${ids.bob}#x`,
    ]) {
      const res = await client.post('/admin/action', {
        ...fields,
        back,
        action: 'toggle-user',
        password: ADMIN_PASSWORD,
      });
      expect(res.headers.location, back).toMatch(/^\/admin\/users\?flash=/);
    }
    const list = '/admin/users?status=active&sort=username&order=asc';
    const res = await client.post('/admin/action', {
      ...fields,
      back: list,
      action: 'toggle-user',
      password: ADMIN_PASSWORD,
    });
    expect(res.headers.location).toBe(`${list}&flash=unblocked&who=bob`);
  });
});

describe('hidden fields', () => {
  it('the users page carries the admin CSRF token, not a user one', async () => {
    const server = await startAdminServer();
    await someUsers(server);
    const client = await adminBrowser(server);
    const html = (await client.get('/admin/users')).body;
    expect(hiddenFields(html).csrf_token).toBe(client.cookies.get('csrf_token'));
  });
});
