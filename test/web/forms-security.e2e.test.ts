import { afterEach, describe, expect, it } from 'vitest';
import { addUser, pair, PASSWORD, startTestServer, type TestServer } from '../helpers/sync-app.js';
import { hiddenFields, WebClient } from './browser-client.js';

// Forms refuse what a third-party site could send: anonymous forms without the public-form
// token, signed-in forms without the session's CSRF token, and every value a user or a
// device controls is escaped where the dashboard shows it.

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const eventCount = (s: TestServer) =>
  (s.runtime.db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;

async function signedIn(s: TestServer) {
  const client = new WebClient(s.app);
  const res = await client.submit('/login', '/login', { username: 'alice', password: PASSWORD });
  expect(res.statusCode, res.body).toBe(303);
  return client;
}

describe('anonymous forms', () => {
  const FORMS: [string, Record<string, string>][] = [
    ['/login', { username: 'alice', password: PASSWORD }],
    ['/register', { username: 'mallory', email: 'm@example.test', password: PASSWORD }],
    ['/forgot', { email: 'alice@example.test' }],
    ['/reset', { token: 'a'.repeat(64), password: PASSWORD, confirm: PASSWORD }],
    ['/locale', { locale: 'ru', from: '/' }],
  ];

  it('answer 403 without the public-form token, with a forged one or cross-site, changing nothing', async () => {
    server = await startTestServer();
    await addUser(server, 'alice');
    const before = eventCount(server);
    const client = new WebClient(server.app);
    const { locale_csrf: token } = hiddenFields((await client.get('/')).body);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    for (const [url, fields] of FORMS) {
      const attempts = [
        await client.post(url, fields),
        await client.post(url, { ...fields, locale_csrf: 'f'.repeat(64) }),
        await client.post(
          url,
          { ...fields, locale_csrf: token! },
          { origin: 'https://evil.example' },
        ),
        await client.post(
          url,
          { ...fields, locale_csrf: token! },
          { 'sec-fetch-site': 'cross-site' },
        ),
        // The right field without its cookie: a page elsewhere cannot set it.
        await new WebClient(server.app).post(url, { ...fields, locale_csrf: token! }),
      ];
      for (const res of attempts) {
        expect(res.statusCode, `${url} ${res.body}`).toBe(403);
        expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(res.cookies.find((c) => c.name === 'user_session')).toBeUndefined();
      }
    }
    expect(eventCount(server)).toBe(before);
  });
});

describe('signed-in forms', () => {
  it('answer 403 csrf_invalid without the session’s CSRF token and change nothing', async () => {
    server = await startTestServer();
    await addUser(server, 'alice');
    const device = await pair(server, 'alice', 'vault-1');
    const client = await signedIn(server);
    const csrf = client.cookies.get('csrf_token')!;
    const before = eventCount(server);
    const revoke = `/api/v1/user/devices/${device.deviceId}/revoke`;
    const other = await new WebClient(server.app).submit('/', '/login', {
      username: 'alice',
      password: PASSWORD,
    });
    const foreignCsrf = other.cookies.find((c) => c.name === 'csrf_token')!.value;
    expect(foreignCsrf).not.toBe(csrf);
    const afterLogin = eventCount(server);

    for (const [url, fields] of [
      ['/logout', {}],
      [revoke, { password: PASSWORD }],
    ] as const) {
      const attempts = [
        await client.post(url, fields),
        await client.post(url, { ...fields, csrf_token: 'f'.repeat(64) }),
        // Another session's token, even sent as both cookie and field, is not this session's.
        await client.post(
          url,
          { ...fields, csrf_token: foreignCsrf },
          { cookie: `${client.cookieHeader()}; csrf_token=${foreignCsrf}` },
        ),
        await client.post(url, { ...fields, csrf_token: csrf }, { origin: 'https://evil.example' }),
      ];
      for (const res of attempts) {
        expect(res.statusCode, `${url} ${res.body}`).toBe(403);
        expect(res.json()).toMatchObject({ code: 'csrf_invalid' });
      }
    }
    expect(eventCount(server)).toBe(afterLogin);
    expect(afterLogin).toBe(before + 1);
    expect((await client.get('/dashboard')).statusCode).toBe(200);

    // The X-CSRF-Token header is accepted in place of the field.
    const byHeader = await client.post('/logout', {}, { 'x-csrf-token': csrf });
    expect(byHeader.statusCode).toBe(302);
    expect((await client.get('/dashboard')).statusCode).toBe(302);
  });
});

describe('escaping', () => {
  const HOSTILE_NAME = '"><img src=x onerror=alert(1)><script>alert(2)</script>';

  it('shows hostile device names and vault ids as text on the dashboard', async () => {
    server = await startTestServer();
    await addUser(server, 'alice');
    await pair(server, 'alice', '<script>alert(3)</script>', HOSTILE_NAME);
    const client = await signedIn(server);
    const page = await client.get(`/dashboard?q=${encodeURIComponent('<script>')}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toMatch(/<script|<img src=x/i);
    expect(page.body).toContain(
      '&#34;&#62;&#60;img src=x onerror=alert(1)&#62;&#60;script&#62;alert(2)&#60;/script&#62;',
    );
    expect(page.body).toContain('&#60;script&#62;alert(3)&#60;/script&#62;');
    // The filter echoes its query in the search box, escaped too.
    expect(page.body).toContain('value="&#60;script&#62;"');
  });

  it('shows a hostile username typed into the forms as text', async () => {
    server = await startTestServer();
    const client = new WebClient(server.app);
    for (const url of ['/login', '/register']) {
      const res = await client.submit(url, url, {
        username: `<script>alert(1)</script>${HOSTILE_NAME}`,
        email: 'x@example.test',
        password: 'short',
      });
      expect([200, 401], url).toContain(res.statusCode);
      expect(res.body, url).not.toMatch(/<script>alert|<img src=x/i);
      expect(res.body, url).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    }
  });
});
