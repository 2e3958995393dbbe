import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { addUser, pair, PASSWORD, startTestServer, type TestServer } from '../helpers/sync-app.js';
import { hiddenFields, langOf, WebClient } from './browser-client.js';

// Every user page renders in both languages, the locale comes from the cookie, then the
// browser, then the configured default, and the pages keep to the CSP (no inline code).

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ANONYMOUS_PAGES = [
  '/',
  '/login',
  '/register',
  '/register/result',
  '/forgot',
  '/forgot/sent',
  '/reset/done',
  '/confirm/result',
];

async function signedIn(s: TestServer, headers: Record<string, string> = {}) {
  const client = new WebClient(s.app, headers);
  const res = await client.submit('/login', '/login', { username: 'alice', password: PASSWORD });
  expect(res.statusCode, res.body).toBe(303);
  expect(res.headers.location).toBe('/dashboard');
  return client;
}

describe('the user pages', () => {
  for (const [lang, headers] of [
    ['en', { 'accept-language': 'en-US,en;q=0.9' }],
    ['ru', { 'accept-language': 'ru-RU,ru;q=0.9,en;q=0.5' }],
  ] as const) {
    it(`render 200 with <html lang="${lang}"> and the switcher (${lang})`, async () => {
      server = await startTestServer();
      await addUser(server, 'alice');
      const client = new WebClient(server.app, headers);
      for (const url of ANONYMOUS_PAGES) {
        const res = await client.get(url);
        expect(res.statusCode, url).toBe(200);
        expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(langOf(res.body), url).toBe(lang);
        expect(res.body, url).toContain('action="/locale"');
        expect(res.body, url).toContain('href="/static/app.css"');
        // CSP: default-src 'self' and no 'unsafe-inline': nothing inline may appear.
        expect(res.body, url).not.toMatch(/<script|<style| style=| on[a-z]+=/i);
      }
      const user = await signedIn(server, headers);
      const dashboard = await user.get('/dashboard');
      expect(dashboard.statusCode).toBe(200);
      expect(langOf(dashboard.body)).toBe(lang);
      expect(dashboard.headers['cache-control']).toBe('no-store');
    });
  }

  it('prefers the locale cookie, then Accept-Language, then the configured default', async () => {
    server = await startTestServer({ settings: { default_locale: 'ru' } });
    const page = (headers: Record<string, string>) =>
      server!.app.inject({ url: '/login', headers }).then((r) => langOf(r.body));
    expect(await page({})).toBe('ru');
    expect(await page({ 'accept-language': 'en' })).toBe('en');
    expect(await page({ 'accept-language': 'de, en;q=0.5' })).toBe('en');
    expect(await page({ 'accept-language': 'en', cookie: 'verstak_locale=ru' })).toBe('ru');
    expect(await page({ 'accept-language': 'en', cookie: 'verstak_locale=system' })).toBe('en');
  });

  it('switches the language with POST /locale and returns to the page', async () => {
    server = await startTestServer();
    const client = new WebClient(server.app, { 'accept-language': 'en' });
    const form = hiddenFields((await client.get('/forgot')).body);
    expect(form.from).toBe('/forgot');
    const res = await client.post('/locale', { ...form, locale: 'ru' });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/forgot');
    const cookie = res.cookies.find((c) => c.name === 'verstak_locale')!;
    expect(cookie).toMatchObject({ value: 'ru', httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(cookie.maxAge).toBe(365 * 86_400);
    const after = await client.get('/forgot');
    expect(langOf(after.body)).toBe('ru');
    expect(after.body).toContain('<option value="ru" lang="ru" selected>');

    for (const from of ['//evil.example/', '/\\evil.example', 'https://evil.example/']) {
      const away = await client.post('/locale', { ...form, locale: 'en', from });
      expect(away.headers.location, from).toBe('/');
    }
  });

  it('refuses POST /locale without the public-form token', async () => {
    server = await startTestServer();
    const client = new WebClient(server.app);
    await client.get('/');
    const res = await client.post('/locale', {
      locale: 'ru',
      from: '/',
      locale_csrf: 'f'.repeat(64),
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.cookies.find((c) => c.name === 'verstak_locale')).toBeUndefined();
  });

  it('sends signed-in visitors of /login to the dashboard and guests of /dashboard to /login', async () => {
    server = await startTestServer();
    await addUser(server, 'alice');
    const guest = await server.app.inject({ url: '/dashboard' });
    expect(guest.statusCode).toBe(302);
    expect(guest.headers.location).toBe('/login');
    const user = await signedIn(server);
    const login = await user.get('/login');
    expect(login.statusCode).toBe(302);
    expect(login.headers.location).toBe('/dashboard');
    const home = await user.get('/');
    expect(home.body).toContain('action="/logout"');
    expect(home.headers['cache-control']).toBe('no-store');
  });

  it('lists only the user’s own devices, filters them and explains an empty list', async () => {
    server = await startTestServer();
    await addUser(server, 'alice');
    await addUser(server, 'bob');
    const user = await signedIn(server);
    const empty = await user.get('/dashboard');
    expect(empty.body).toContain('No devices yet');
    expect(empty.body).toContain('Settings → Sync');

    await pair(server, 'alice', 'notes-vault', 'work laptop');
    await pair(server, 'alice', 'diary', 'home desktop');
    await pair(server, 'bob', 'bobs-vault', 'bob phone');
    const all = await user.get('/dashboard');
    expect(all.body).toContain('work laptop');
    expect(all.body).toContain('home desktop');
    expect(all.body).not.toContain('bob phone');
    expect(all.body).toContain('verstak-desktop/v2');
    const filtered = await user.get('/dashboard?q=DIARY');
    expect(filtered.body).toContain('home desktop');
    expect(filtered.body).not.toContain('work laptop');
    const none = await user.get('/dashboard?q=nothing-here');
    expect(none.body).toContain('No device matches “nothing-here”.');
  });

  it('serves the stylesheet and logo with cache headers and a 404 page for the rest', async () => {
    server = await startTestServer();
    const css = await server.app.inject({ url: '/static/app.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect(css.headers['cache-control']).toBe('public, max-age=86400');
    expect(css.headers.etag).toBeTruthy();
    expect(css.body).toContain('prefers-color-scheme: dark');
    const logo = await server.app.inject({ url: '/static/logo.svg' });
    expect(logo.statusCode).toBe(200);
    expect(logo.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect((await server.app.inject({ url: '/static/../package.json' })).statusCode).toBe(404);
    expect((await server.app.inject({ url: '/static/nope.css' })).statusCode).toBe(404);
  });
});

describe('unknown paths', () => {
  it('answer a 404 page in the reader’s language, and JSON under /api/', async () => {
    server = await startTestServer();
    const ru = await server.app.inject({
      url: '/no/such/page',
      headers: { 'accept-language': 'ru' },
    });
    expect(ru.statusCode).toBe(404);
    expect(ru.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(langOf(ru.body)).toBe('ru');
    expect(ru.body).toContain('Страница не найдена');
    const api = await server.app.inject({ url: '/api/v1/nothing' });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toEqual({ error: 'not found', code: 'not_found' });
  });
});

describe('the home page', () => {
  it('answers 503 "unavailable" when the blob storage is gone', async () => {
    server = await startTestServer();
    expect((await server.app.inject({ url: '/' })).statusCode).toBe(200);
    rmSync(server.runtime.blobDir, { recursive: true, force: true });
    const res = await server.app.inject({ url: '/', headers: { 'accept-language': 'en' } });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('Temporarily unavailable');
    expect((await server.app.inject({ url: '/api/v1/health' })).statusCode).toBe(503);
  });
});
