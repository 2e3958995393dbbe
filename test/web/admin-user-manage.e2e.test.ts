import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { addUser, pair, PASSWORD } from '../helpers/sync-app.js';
import { ADMIN_PASSWORD, adminBrowser, logHead, startAdminServer } from './admin-rig.js';
import {
  eventsAfter,
  expectNowhereInClear,
  inDatabaseFiles,
  shownPassword,
  userFields,
  userIdOf,
  userRow,
  userSignIn,
} from './admin-users-rig.js';
import { hiddenFields } from './browser-client.js';

// CONTRACT.md §9 and §11: creating a user, editing, resetting the password and deleting from
// a user's page, and the page that shows a generated password once.

const createForm = async (client: Awaited<ReturnType<typeof adminBrowser>>) => {
  const page = await client.get('/admin/create-user');
  expect(page.statusCode).toBe(200);
  expect(page.headers['cache-control']).toBe('no-store');
  return hiddenFields(page.body);
};

describe('/admin/create-user', () => {
  it('creates a confirmed user with the password the admin typed', async () => {
    const server = await startAdminServer();
    const client = await adminBrowser(server);
    const head = logHead(server);
    const res = await client.post('/admin/create-user', {
      ...(await createForm(client)),
      username: 'newbie',
      email: 'Newbie@Example.test',
      password_mode: 'typed',
      password: PASSWORD,
      locale: 'ru',
    });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe('/admin/users?flash=created&who=newbie');
    expect((await client.get(res.headers.location!)).body).toContain('User newbie is created.');
    const id = userIdOf(server, 'newbie')!;
    expect(userRow(server, id)).toEqual({
      username: 'newbie',
      email: 'newbie@example.test',
      confirmed: 1,
      blocked: 0,
    });
    expect(eventsAfter(server, head)).toEqual([
      { type: 'UserRegistered', stream: `user/${id}`, actor: 'admin:root' },
    ]);
    expect((await userSignIn(server, 'newbie', PASSWORD)).status).toBe(303);
    expectNowhereInClear(server, PASSWORD);
  });

  it('generates a password and shows it once, on the page or as JSON', async () => {
    const server = await startAdminServer();
    const client = await adminBrowser(server);
    const res = await client.post('/admin/create-user', {
      ...(await createForm(client)),
      username: 'gen',
      email: 'gen@example.test',
      password_mode: 'generate',
      // A typed password is ignored when the server makes one up.
      password: 'typed but unused',
    });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe('/admin/password-result');
    const shown = await client.get('/admin/password-result');
    expect(shown.headers['cache-control']).toBe('no-store');
    const password = shownPassword(shown.body);
    expect(password).toMatch(/^[0-9a-f]{32}$/);
    expect(shown.body).toContain('The new password of gen.');
    expect((await userSignIn(server, 'gen', password)).status).toBe(303);
    expect((await userSignIn(server, 'gen', 'typed but unused')).status).toBe(401);

    const again = await client.get('/admin/password-result');
    expect(again.statusCode).toBe(200);
    expect(shownPassword(again.body)).toBe('');
    expect(again.body).toContain('already shown');
    expect(again.body).not.toContain(password);
    const secret = await client.post('/admin/password-result/secret', {
      csrf_token: client.cookies.get('csrf_token')!,
    });
    expect(secret.statusCode).toBe(410);
    expect(secret.json()).toEqual({
      error: expect.any(String),
      code: 'one_time_secret_expired',
    });
    expectNowhereInClear(server, password);
    // The search finds what is there in clear: the new account's address.
    expect(inDatabaseFiles(server, 'gen@example.test')).toBe(true);
    const table = server.runtime.db.prepare('SELECT COUNT(*) AS n FROM admin_one_time_secrets');
    expect(table.get()).toEqual({ n: 0 });
  });

  it('keeps values but never the password when it refuses; nothing is written', async () => {
    const server = await startAdminServer();
    await addUser(server, 'taken');
    const client = await adminBrowser(server);
    const fields = await createForm(client);
    const head = logHead(server);
    const secretTyped = 'my secret typed pw';
    const cases = [
      [{ username: '', email: 'a@example.test' }, 400, 'Fill in every field.'],
      [{ username: 'bad name!', email: 'a@example.test' }, 400, 'The username must be'],
      [{ username: 'fine', email: 'not-an-address' }, 400, 'Enter a valid e-mail address.'],
      [
        { username: 'fine', email: 'a@example.test', password_mode: 'typed', password: 'short' },
        400,
        'The password must be 8 to 256 bytes long.',
      ],
      [
        { username: 'fine', email: 'a@example.test', password_mode: 'typed', password: '' },
        400,
        'Fill in every field.',
      ],
      [{ username: 'TAKEN', email: 'a@example.test' }, 409, 'This username is already taken.'],
      [
        {
          username: 'fine',
          email: 'taken@example.test',
          password_mode: 'typed',
          password: secretTyped,
        },
        409,
        'Another account already uses this e-mail address.',
      ],
    ] as const;
    for (const [form, status, message] of cases) {
      const res = await client.post('/admin/create-user', {
        ...fields,
        password_mode: 'generate',
        ...form,
      });
      expect(res.statusCode, JSON.stringify(form)).toBe(status);
      expect(res.body).toContain(message.replace(/'/g, '&#39;'));
      if (form.username) expect(res.body).toContain(`value="${form.username}"`);
      expect(res.body).not.toContain(secretTyped);
    }
    const csrf = await client.post('/admin/create-user', {
      ...fields,
      csrf_token: 'f'.repeat(64),
      username: 'fine',
      email: 'fine@example.test',
    });
    expect(csrf.statusCode).toBe(403);
    expect(csrf.json()).toMatchObject({ code: 'csrf_invalid' });
    expect(logHead(server)).toBe(head);
  });

  it('renders hostile values it sends back inert', async () => {
    const server = await startAdminServer();
    const client = await adminBrowser(server);
    const hostile = '"><img src=x onerror=alert(1)>';
    const res = await client.post('/admin/create-user', {
      ...(await createForm(client)),
      username: hostile,
      email: `<script>alert(1)</script>`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).not.toContain('<img src=x');
    expect(res.body).not.toContain('<script>alert');
    expect(res.body).toContain('value="&#34;&#62;&#60;img src=x onerror=alert(1)&#62;"');
    const flash = await client.get(`/admin/users?flash=created&who=${encodeURIComponent(hostile)}`);
    expect(flash.body).not.toContain('<img src=x');
    expect(flash.body).toContain('User &#34;&#62;&#60;img src=x onerror=alert(1)&#62; is created.');
  });
});

describe('edit-user', () => {
  it('changes the username and address without the admin password', async () => {
    const server = await startAdminServer();
    const id = await addUser(server, 'alice');
    await addUser(server, 'bob');
    const client = await adminBrowser(server);
    const fields = await userFields(client, '/admin/users', 'alice');
    const head = logHead(server);
    const res = await client.post('/admin/action', {
      ...fields,
      action: 'edit-user',
      username: 'alicia',
      email: 'Alicia@Example.test',
    });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe(`/admin/user/?id=${id}&flash=updated&who=alicia`);
    const after = (await client.get(res.headers.location!)).body;
    expect(after).toContain('Changes to alicia are saved.');
    expect(after).toContain('<dd class="user-email">alicia@example.test</dd>');
    expect(userRow(server, id)).toMatchObject({ username: 'alicia', email: 'alicia@example.test' });
    expect(eventsAfter(server, head)).toEqual([
      { type: 'UserUpdated', stream: `user/${id}`, actor: 'admin:root' },
    ]);
    expect((await userSignIn(server, 'alicia', PASSWORD)).status).toBe(303);
    expect((await userSignIn(server, 'alice', PASSWORD)).status).toBe(401);
    // The same values again is no change: no event.
    const before = logHead(server);
    const same = await client.post('/admin/action', {
      ...fields,
      action: 'edit-user',
      username: 'alicia',
      email: 'alicia@example.test',
    });
    expect(same.statusCode).toBe(303);
    expect(logHead(server)).toBe(before);
    // The rebuilt projection agrees with the one kept live.
    server.runtime.projector.rebuildAll();
    expect(userRow(server, id)).toMatchObject({ username: 'alicia' });
  });

  it('refuses bad, taken or unknown values, and a foreign CSRF token; nothing is written', async () => {
    const server = await startAdminServer();
    const id = await addUser(server, 'alice');
    await addUser(server, 'bob');
    const client = await adminBrowser(server);
    const fields = await userFields(client, '/admin/users', 'alice');
    const head = logHead(server);
    const edit = (values: Record<string, string>) =>
      client.post('/admin/action', { ...fields, action: 'edit-user', ...values });
    const bad = await edit({ username: 'no spaces', email: 'a@example.test' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('Check the values');
    expect((await edit({ username: 'alice', email: '' })).statusCode).toBe(400);
    const takenName = await edit({ username: 'BOB', email: 'alice@example.test' });
    expect(takenName.statusCode).toBe(409);
    expect(takenName.body).toContain('This username is already taken.');
    const takenMail = await edit({ username: 'alice', email: 'bob@example.test' });
    expect(takenMail.statusCode).toBe(409);
    expect(takenMail.body).toContain('Another account already uses this e-mail address.');
    expect((await edit({ id: 'nobody', username: 'x', email: 'x@example.test' })).statusCode).toBe(
      404,
    );
    const csrf = await edit({ csrf_token: 'f'.repeat(64), username: 'x', email: 'x@example.test' });
    expect(csrf.statusCode).toBe(403);
    expect(logHead(server)).toBe(head);
    expect(userRow(server, id)).toMatchObject({ username: 'alice', email: 'alice@example.test' });
  });
});

describe('reset-user-password', () => {
  it('sets a random password shown once, and ends the user’s browser sessions', async () => {
    const server = await startAdminServer();
    const id = await addUser(server, 'alice');
    const user = await userSignIn(server, 'alice', PASSWORD);
    expect((await user.client.get('/dashboard')).statusCode).toBe(200);
    const device = await pair(server, 'alice', 'notes');
    const client = await adminBrowser(server);
    const fields = await userFields(client, '/admin/users', 'alice');
    const head = logHead(server);

    const wrong = await client.post('/admin/action', {
      ...fields,
      action: 'reset-user-password',
      password: 'not it',
    });
    expect(wrong.statusCode).toBe(403);
    expect(logHead(server)).toBe(head);

    const res = await client.post('/admin/action', {
      ...fields,
      action: 'reset-user-password',
      password: ADMIN_PASSWORD,
    });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe('/admin/password-result');
    expect(eventsAfter(server, head)).toEqual([
      { type: 'PasswordReset', stream: `user/${id}`, actor: 'admin:root' },
      { type: 'SessionEnded', stream: `user/${id}`, actor: 'admin:root' },
    ]);
    expect((await user.client.get('/dashboard')).headers.location).toBe('/login');
    // Device tokens are the user's to revoke: a new password does not end them.
    const me = await server.app.inject({
      method: 'GET',
      url: '/api/client/me',
      headers: { authorization: `Bearer ${device.token}` },
    });
    expect(me.statusCode).toBe(200);

    const secret = await client.post('/admin/password-result/secret', {
      csrf_token: client.cookies.get('csrf_token')!,
    });
    expect(secret.statusCode).toBe(200);
    expect(secret.headers['cache-control']).toBe('no-store');
    const { password } = secret.json<{ password: string }>();
    expect(password).toMatch(/^[0-9a-f]{32}$/);
    expect((await userSignIn(server, 'alice', password)).status).toBe(303);
    expect((await userSignIn(server, 'alice', PASSWORD)).status).toBe(401);
    // Once only, in either form.
    const twice = await client.post('/admin/password-result/secret', {
      csrf_token: client.cookies.get('csrf_token')!,
    });
    expect(twice.statusCode).toBe(410);
    expect(shownPassword((await client.get('/admin/password-result')).body)).toBe('');
    expectNowhereInClear(server, password);
  });

  it('keeps the password for this admin session only, and for 5 minutes at most', async () => {
    const clock = createManualClock(new Date());
    const server = await startAdminServer({ clock });
    await addUser(server, 'alice');
    const client = await adminBrowser(server);
    const other = await adminBrowser(server);
    const fields = await userFields(client, '/admin/users', 'alice');
    const reset = () =>
      client.post('/admin/action', {
        ...fields,
        action: 'reset-user-password',
        password: ADMIN_PASSWORD,
      });
    expect((await reset()).statusCode).toBe(303);
    // Another admin session sees nothing, and takes nothing.
    expect(shownPassword((await other.get('/admin/password-result')).body)).toBe('');
    const foreign = await other.post('/admin/password-result/secret', {
      csrf_token: other.cookies.get('csrf_token')!,
    });
    expect(foreign.statusCode).toBe(410);
    clock.advance(4 * 60_000);
    expect(shownPassword((await client.get('/admin/password-result')).body)).toMatch(
      /^[0-9a-f]{32}$/,
    );

    expect((await reset()).statusCode).toBe(303);
    clock.advance(5 * 60_000);
    const late = await client.get('/admin/password-result');
    expect(shownPassword(late.body)).toBe('');
    expect(late.body).toContain('more than 5 minutes');
    const table = server.runtime.db.prepare('SELECT COUNT(*) AS n FROM admin_one_time_secrets');
    expect(table.get()).toEqual({ n: 0 });
  });

  it('asks for CSRF on the JSON form and an admin session; HEAD uses nothing up', async () => {
    const server = await startAdminServer();
    await addUser(server, 'alice');
    const client = await adminBrowser(server);
    const fields = await userFields(client, '/admin/users', 'alice');
    await client.post('/admin/action', {
      ...fields,
      action: 'reset-user-password',
      password: ADMIN_PASSWORD,
    });
    const noCsrf = await client.post('/admin/password-result/secret', {});
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json()).toMatchObject({ code: 'csrf_invalid' });
    const anonymous = await server.app.inject({ method: 'GET', url: '/admin/password-result' });
    expect(anonymous.headers.location).toBe('/admin/login');
    const head = await server.app.inject({
      method: 'HEAD',
      url: '/admin/password-result',
      headers: { cookie: client.cookieHeader() },
    });
    expect(head.statusCode).toBe(200);
    // The refused calls did not use it up.
    expect(shownPassword((await client.get('/admin/password-result')).body)).toMatch(
      /^[0-9a-f]{32}$/,
    );
  });
});

describe('delete-user', () => {
  it('deletes the account and its content with the admin password', async () => {
    const server = await startAdminServer();
    const id = await addUser(server, 'alice');
    await addUser(server, 'bob');
    const device = await pair(server, 'alice', 'notes');
    const client = await adminBrowser(server);
    const fields = await userFields(client, '/admin/users?sort=username&order=asc', 'alice');
    const head = logHead(server);
    const wrong = await client.post('/admin/action', {
      ...fields,
      action: 'delete-user',
      password: 'not it',
    });
    expect(wrong.statusCode).toBe(403);
    expect(logHead(server)).toBe(head);
    expect(userRow(server, id)).toBeDefined();

    const res = await client.post('/admin/action', {
      ...fields,
      action: 'delete-user',
      password: ADMIN_PASSWORD,
    });
    expect(res.statusCode, res.body).toBe(303);
    // The user's page is gone: back to the list.
    expect(res.headers.location).toBe('/admin/users?flash=deleted&who=alice');
    expect(eventsAfter(server, head)).toEqual([
      { type: 'UserDeleted', stream: `user/${id}`, actor: 'admin:root' },
    ]);
    expect(userRow(server, id)).toBeUndefined();
    const list = await client.get(res.headers.location!);
    expect(list.body).toContain('User alice and everything they synced are deleted.');
    expect(list.body).not.toContain('>alice</a></th>');
    expect(list.body).toContain('>bob</a></th>');
    expect((await client.get(fields.back!)).statusCode).toBe(404);
    const me = await server.app.inject({
      method: 'GET',
      url: '/api/client/me',
      headers: { authorization: `Bearer ${device.token}` },
    });
    expect(me.statusCode).toBe(401);
    const again = await client.post('/admin/action', {
      ...fields,
      action: 'delete-user',
      password: ADMIN_PASSWORD,
    });
    expect(again.statusCode).toBe(404);
  });
});

describe('the users page and a user page', () => {
  it('lists users as links, and the user page offers the forms, each labelled', async () => {
    const server = await startAdminServer();
    const empty = await adminBrowser(server);
    expect((await empty.get('/admin/users')).body).toContain('href="/admin/create-user"');
    const id = await addUser(server, 'alice');
    // Rows migrated from the reference were never checked: the forms escape what they hold.
    server.runtime.db
      .prepare('UPDATE users SET username = ?, email = ? WHERE id = ?')
      .run('"><img src=x onerror=alert(1)>', '<script>alert(1)</script>', id);
    const list = (await empty.get('/admin/users')).body;
    // The list carries no forms but its filter: a row is a link to the user's page.
    expect(list).not.toContain('action="/admin/action"');
    expect(list).toContain(
      `<a href="/admin/user/?id=${id}">&#34;&#62;&#60;img src=x onerror=alert(1)&#62;</a>`,
    );
    const html = (await empty.get(`/admin/user/?id=${id}`)).body;
    for (const action of ['toggle-user', 'edit-user', 'reset-user-password', 'delete-user']) {
      expect(html).toContain(`value="${action}"`);
    }
    for (const page of [list, html]) {
      expect(page).not.toContain('<img src=x');
      expect(page).not.toContain('<script>alert');
    }
    expect(html).toContain(`value="&#34;&#62;&#60;img src=x onerror=alert(1)&#62;"`);
    for (const input of html.matchAll(/<input id="([^"]+)"/g)) {
      expect(html, input[1]).toContain(`for="${input[1]}"`);
    }
    // Every form returns to this page, but deletion, which returns to the list.
    const backs = [...html.matchAll(/<input type="hidden" name="back" value="([^"]*)">/g)].map(
      (m) => m[1],
    );
    expect(backs).toEqual([
      `/admin/user/?id=${id}`,
      `/admin/user/?id=${id}`,
      `/admin/user/?id=${id}`,
      '/admin/users',
    ]);
  });

  it('shows a hostile name on the one-time page inert', async () => {
    const server = await startAdminServer();
    const id = await addUser(server, 'alice');
    const client = await adminBrowser(server);
    const fields = await userFields(client, '/admin/users', 'alice');
    server.runtime.db
      .prepare('UPDATE users SET username = ? WHERE id = ?')
      .run('<script>alert(1)</script>', id);
    await client.post('/admin/action', {
      ...fields,
      action: 'reset-user-password',
      password: ADMIN_PASSWORD,
    });
    const page = (await client.get('/admin/password-result')).body;
    expect(page).not.toContain('<script>alert');
    expect(page).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  });
});
