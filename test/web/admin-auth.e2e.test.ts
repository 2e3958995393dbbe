import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { addUser, PASSWORD } from '../helpers/sync-app.js';
import { hiddenFields, langOf, WebClient } from './browser-client.js';
import {
  ADMIN,
  ADMIN_PASSWORD,
  adminBrowser,
  adminLogin,
  logHead,
  startAdminServer,
} from './admin-rig.js';

// The console's sign-in (CONTRACT.md §3.2, §9): admin_session on Path /admin, its own CSRF
// token, the login rate limits, and scopes that never open each other's pages.

describe('admin sign-in', () => {
  it('opens an admin session with cookies on Path /admin and lands on the dashboard', async () => {
    const server = await startAdminServer();
    const client = new WebClient(server.app, { 'accept-language': 'en' });
    expect((await client.get('/admin')).headers.location).toBe('/admin/dashboard');
    const anonymous = await client.get('/admin/dashboard');
    expect(anonymous.statusCode).toBe(302);
    expect(anonymous.headers.location).toBe('/admin/login');

    const res = await adminLogin(client);
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe('/admin/dashboard');
    const session = res.cookies.find((c) => c.name === 'admin_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/admin' });
    expect(session.maxAge).toBe(4 * 3600);
    const csrf = res.cookies.find((c) => c.name === 'csrf_token')!;
    expect(csrf).toMatchObject({ sameSite: 'Strict', path: '/admin' });
    expect(csrf.httpOnly).toBeFalsy();
    expect(res.cookies.some((c) => c.name === 'user_session')).toBe(false);

    const dashboard = await client.get('/admin/dashboard');
    expect(dashboard.statusCode).toBe(200);
    expect(dashboard.headers['cache-control']).toBe('no-store');
    expect(dashboard.body).toContain('Administrator root');
    expect(dashboard.body).toContain('href="/admin/dashboard" aria-current="page"');
    for (const section of [
      'users',
      'devices',
      'vaults',
      'storage',
      'audit',
      'settings',
      'diagnostics',
    ]) {
      expect(dashboard.body).toContain(`<a href="/admin/${section}">`);
    }
    expect((await client.get('/admin/login')).headers.location).toBe('/admin/dashboard');

    // Signing in again replaces the session this browser held (no fixation).
    const old = client.cookies.get('admin_session')!;
    const again = await client.post('/admin/login', {
      locale_csrf: client.cookies.get('verstak_locale_csrf')!,
      username: ADMIN,
      password: ADMIN_PASSWORD,
    });
    expect(again.statusCode).toBe(303);
    expect(client.cookies.get('admin_session')).not.toBe(old);
    expect((await client.get('/admin/dashboard')).statusCode).toBe(200);
    const stale = await server.app.inject({
      method: 'GET',
      url: '/admin/dashboard',
      headers: { cookie: `admin_session=${old}` },
    });
    expect(stale.headers.location).toBe('/admin/login');
  });

  it('refuses a wrong password or an unknown name with the same 401 page', async () => {
    const server = await startAdminServer();
    const client = new WebClient(server.app, { 'accept-language': 'en' });
    for (const [username, password] of [
      [ADMIN, 'not the password'],
      ['nobody', ADMIN_PASSWORD],
      [ADMIN, ''],
    ] as const) {
      const res = await adminLogin(client, username, password);
      expect(res.statusCode, username).toBe(401);
      expect(res.body).toContain('Sign-in failed: the name or the password is wrong.');
      expect(res.cookies.some((c) => c.name === 'admin_session')).toBe(false);
    }
    // A user's account is not an admin's.
    await addUser(server, 'alice');
    expect((await adminLogin(client, 'alice', PASSWORD)).statusCode).toBe(401);
    expect((await client.get('/admin/dashboard')).headers.location).toBe('/admin/login');
  });

  it('needs the public-form token', async () => {
    const server = await startAdminServer();
    const client = new WebClient(server.app);
    await client.get('/admin/login');
    const res = await client.post('/admin/login', { username: ADMIN, password: ADMIN_PASSWORD });
    expect(res.statusCode).toBe(403);
    expect(res.cookies.some((c) => c.name === 'admin_session')).toBe(false);
  });

  it('is rate limited with the login buckets', async () => {
    const server = await startAdminServer();
    const client = new WebClient(server.app, { 'accept-language': 'en' }, '10.1.2.3');
    for (let i = 0; i < 10; i += 1) {
      expect((await adminLogin(client, ADMIN, `wrong ${i}`)).statusCode).toBe(401);
    }
    const head = logHead(server);
    const limited = await adminLogin(client);
    expect(limited.statusCode).toBe(429);
    expect(limited.cookies.some((c) => c.name === 'admin_session')).toBe(false);
    expect(logHead(server)).toBe(head);
    // The per-name bucket holds from another address too.
    const elsewhere = new WebClient(server.app, { 'accept-language': 'en' }, '10.9.9.9');
    expect((await adminLogin(elsewhere)).statusCode).toBe(429);
  });

  it('signs out with the CSRF token only', async () => {
    const server = await startAdminServer();
    const client = await adminBrowser(server);
    const refused = await client.post('/admin/logout', { csrf_token: 'x'.repeat(64) });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'csrf_invalid' });
    expect((await client.get('/admin/dashboard')).statusCode).toBe(200);

    const fields = hiddenFields((await client.get('/admin/dashboard')).body);
    const out = await client.post('/admin/logout', { csrf_token: fields.csrf_token! });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/admin/login');
    const cleared = out.cookies.find((c) => c.name === 'admin_session')!;
    expect(cleared.path).toBe('/admin');
    expect(client.cookies.has('admin_session')).toBe(false);
    expect((await client.get('/admin/dashboard')).headers.location).toBe('/admin/login');
  });

  it('ends a session idle for 15 minutes and any after 4 hours', async () => {
    const clock = createManualClock('2026-07-10T12:00:00.000Z');
    const server = await startAdminServer({ clock });
    const client = await adminBrowser(server);
    clock.advance(14 * 60_000);
    expect((await client.get('/admin/dashboard')).statusCode).toBe(200);
    clock.advance(14 * 60_000);
    expect((await client.get('/admin/users')).statusCode).toBe(200);
    clock.advance(15 * 60_000);
    const head = logHead(server);
    expect((await client.get('/admin/dashboard')).headers.location).toBe('/admin/login');
    // Refused for good, even if used again at once; a read writes nothing.
    expect((await client.get('/admin/dashboard')).headers.location).toBe('/admin/login');
    expect(logHead(server)).toBe(head);

    const busy = await adminBrowser(server);
    for (let i = 0; i < 17; i += 1) {
      clock.advance(14 * 60_000);
      expect((await busy.get('/admin/dashboard')).statusCode, `after ${i}`).toBe(200);
    }
    clock.advance(14 * 60_000);
    expect((await busy.get('/admin/dashboard')).headers.location).toBe('/admin/login');
  });
});

describe('scopes', () => {
  it('a user session never opens the console, an admin session never the dashboard', async () => {
    const server = await startAdminServer();
    await addUser(server, 'alice');
    const user = new WebClient(server.app, { 'accept-language': 'en' });
    const login = await user.submit('/login', '/login', { username: 'alice', password: PASSWORD });
    expect(login.statusCode).toBe(303);
    for (const url of ['/admin/dashboard', '/admin/users']) {
      const res = await user.get(url);
      expect(res.statusCode, url).toBe(302);
      expect(res.headers.location).toBe('/admin/login');
    }
    // The user session's CSRF token does not pass in the admin scope either.
    const csrf = user.cookies.get('csrf_token')!;
    const action = await user.post('/admin/action', { csrf_token: csrf, action: 'toggle-user' });
    expect(action.headers.location).toBe('/admin/login');
    // Nor is the user shown as signed in on the admin sign-in page.
    expect((await user.get('/admin/login')).body).not.toContain('action="/logout"');

    const admin = await adminBrowser(server);
    const dashboard = await admin.get('/dashboard');
    expect(dashboard.statusCode).toBe(302);
    expect(dashboard.headers.location).toBe('/login');
    expect((await admin.get('/login')).statusCode).toBe(200);
    // The admin's session token is no user session, even sent as one.
    const token = admin.cookies.get('admin_session')!;
    const asUser = await server.app.inject({
      method: 'GET',
      url: '/dashboard',
      headers: { cookie: `user_session=${token}` },
    });
    expect(asUser.headers.location).toBe('/login');
    const asBearer = await server.app.inject({
      method: 'GET',
      url: '/admin/dashboard',
      headers: { cookie: `admin_session=${user.cookies.get('user_session')!}` },
    });
    expect(asBearer.headers.location).toBe('/admin/login');
  });
});

describe('admin pages', () => {
  for (const [lang, header, title, users] of [
    ['en', 'en-US,en;q=0.9', 'Administrator sign-in', 'Users'],
    ['ru', 'ru-RU,ru;q=0.9', 'Вход администратора', 'Пользователи'],
  ] as const) {
    it(`render in ${lang}`, async () => {
      const server = await startAdminServer();
      const anonymous = new WebClient(server.app, { 'accept-language': header });
      const login = await anonymous.get('/admin/login');
      expect(login.statusCode).toBe(200);
      expect(langOf(login.body)).toBe(lang);
      expect(login.body).toContain(title);
      const client = await adminBrowser(server, { 'accept-language': header });
      for (const url of ['/admin/dashboard', '/admin/users']) {
        const res = await client.get(url);
        expect(res.statusCode, url).toBe(200);
        expect(langOf(res.body), url).toBe(lang);
        expect(res.body, url).toContain(users);
        expect(res.body, url).not.toMatch(/<script|style="|\son[a-z]+="/);
      }
    });
  }

  it('answers other /admin paths with the 404 page', async () => {
    const server = await startAdminServer();
    const client = await adminBrowser(server);
    expect((await client.get('/admin/nothing-here')).statusCode).toBe(404);
  });
});
