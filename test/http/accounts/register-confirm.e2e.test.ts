import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/clock.js';
import type { TestServer } from '../../helpers/sync-app.js';
import {
  HOUR,
  PASSWORD,
  PUBLIC_URL,
  comparableHeaders,
  confirm,
  emailOf,
  eventsOfType,
  lastMail,
  login,
  outbox,
  post,
  register,
  send,
  startAccountsServer,
  tokenOf,
} from './helpers.js';

let server: TestServer;
afterEach(async () => server.close());

const registerWith = (payload: object, headers: Record<string, string> = {}) =>
  post(server, '/api/v1/auth/register', payload, { headers });

describe('registration through the JSON API', () => {
  it('creates an unconfirmed user and mails a confirmation link to the public URL', async () => {
    server = await startAccountsServer();
    const res = await register(server, 'alice');
    expect(res.json()).toEqual({ status: 'confirmation_sent' });
    const mail = lastMail(server, emailOf('alice'), 'confirm-email');
    expect(mail.params.username).toBe('alice');
    expect(mail.params.link).toMatch(
      new RegExp(`^${PUBLIC_URL}/api/v1/auth/confirm\\?token=[0-9a-f]{64}$`),
    );
    const unconfirmed = await login(server, 'alice');
    expect(unconfirmed.statusCode).toBe(403);
    expect(unconfirmed.json()).toEqual({ error: 'email not confirmed', code: 'forbidden' });
  });

  it('never builds links from the Host header', async () => {
    server = await startAccountsServer();
    await registerWith(
      { username: 'alice', email: emailOf('alice'), password: PASSWORD },
      { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    );
    expect(lastMail(server, emailOf('alice'), 'confirm-email').params.link).toMatch(
      /^https:\/\/sync\.example\.test\//,
    );
  });

  it('refuses bad input with 400 and a taken username with 409 already_exists', async () => {
    server = await startAccountsServer();
    const base = { username: 'alice', email: emailOf('alice'), password: PASSWORD };
    const cases: [object, string][] = [
      [{ ...base, username: '' }, 'username, email and password required'],
      [{ ...base, email: 'not an address' }, 'invalid email'],
      [{ ...base, email: 'Alice <alice@example.test>' }, 'invalid email'],
      [{ ...base, email: 'alice@example.test\r\nBcc: x@example.test' }, 'invalid email'],
      [{ ...base, password: 'short' }, 'PASSWORD_TOO_SHORT'],
      [{ ...base, password: 'x'.repeat(257) }, 'PASSWORD_TOO_LONG'],
    ];
    for (const [payload, error] of cases) {
      const res = await registerWith(payload);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error, code: 'invalid_request' });
    }
    expect(outbox(server)).toEqual([]);
    await register(server, 'alice');
    const taken = await registerWith({ ...base, username: 'ALICE', email: emailOf('other') });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().code).toBe('already_exists');
  });

  it('answers an existing address exactly like a new one and mails the owner instead', async () => {
    server = await startAccountsServer();
    await register(server, 'owner');
    await confirm(server, tokenOf(lastMail(server, emailOf('owner'), 'confirm-email')));
    const fresh = await registerWith({
      username: 'newbie',
      email: emailOf('newbie'),
      password: PASSWORD,
    });
    const again = await registerWith({
      username: 'someone',
      email: emailOf('owner').toUpperCase(),
      password: PASSWORD,
    });
    expect(again.statusCode).toBe(fresh.statusCode);
    expect(again.body).toBe(fresh.body);
    expect(comparableHeaders(again)).toEqual(comparableHeaders(fresh));
    const notice = lastMail(server, emailOf('owner'), 'account-exists');
    expect(notice.params).toEqual({ link: `${PUBLIC_URL}/forgot`, username: 'owner' });
    expect(outbox(server, emailOf('owner')).map((m) => m.template)).toEqual([
      'confirm-email',
      'account-exists',
    ]);
    expect((await login(server, 'someone')).statusCode).toBe(401);
    expect(eventsOfType(server, 'RegistrationAttemptedForExistingEmail')).toHaveLength(1);
  });

  it('sends an unconfirmed owner a fresh link that voids the first', async () => {
    server = await startAccountsServer();
    await register(server, 'alice');
    const first = tokenOf(lastMail(server, emailOf('alice'), 'confirm-email'));
    await register(server, 'alice2', { email: emailOf('alice') });
    const second = tokenOf(lastMail(server, emailOf('alice'), 'confirm-email'));
    expect(second).not.toBe(first);
    expect((await confirm(server, first)).statusCode).toBe(400);
    expect((await confirm(server, second)).json()).toEqual({ status: 'confirmed' });
  });

  it('takes the locale from the body, the cookie, then Accept-Language, then the default', async () => {
    server = await startAccountsServer({ settings: { default_locale: 'ru' } });
    const base = (name: string) => ({ username: name, email: emailOf(name), password: PASSWORD });
    await registerWith({ ...base('a'), locale: 'en' }, { cookie: 'verstak_locale=ru' });
    await registerWith(base('b'), { cookie: 'verstak_locale=en', 'accept-language': 'ru-RU' });
    await registerWith(base('c'), { 'accept-language': 'de-DE, en-GB;q=0.8, ru;q=0.5' });
    await registerWith(base('d'), { 'accept-language': 'de-DE' });
    expect(outbox(server).map((m) => [m.recipient, m.locale])).toEqual([
      [emailOf('a'), 'en'],
      [emailOf('b'), 'en'],
      [emailOf('c'), 'en'],
      [emailOf('d'), 'ru'],
    ]);
  });
});

describe('confirming an e-mail address', () => {
  it('shows a form on GET that does not confirm, then confirms by JSON POST once', async () => {
    server = await startAccountsServer();
    await register(server, 'alice');
    const link = lastMail(server, emailOf('alice'), 'confirm-email').params.link!;
    const token = tokenOf(lastMail(server, emailOf('alice'), 'confirm-email'));
    const page = await send(server, 'GET', link.slice(PUBLIC_URL.length));
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.body).toContain('<form method="post" action="/api/v1/auth/confirm">');
    expect(page.body).toContain(`name="token" value="${token}"`);
    expect((await login(server, 'alice')).statusCode).toBe(403);
    expect(eventsOfType(server, 'EmailConfirmed')).toEqual([]);

    expect((await confirm(server, token)).json()).toEqual({ status: 'confirmed' });
    expect((await login(server, 'alice')).statusCode).toBe(200);
    const reused = await confirm(server, token);
    expect(reused.statusCode).toBe(400);
    expect(reused.json()).toEqual({ error: 'invalid or expired token', code: 'invalid_request' });
  });

  it('escapes the token in the page and answers 400 HTML without one', async () => {
    server = await startAccountsServer();
    const page = await send(
      server,
      'GET',
      `/api/v1/auth/confirm?token=${encodeURIComponent('"><script>x</script>')}`,
    );
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain('<script>');
    expect(page.body).toContain('&#34;&#62;&#60;script&#62;x&#60;/script&#62;');
    const missing = await send(server, 'GET', '/api/v1/auth/confirm');
    expect(missing.statusCode).toBe(400);
    expect(missing.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('confirms from the page form with its form token and redirects to the result page', async () => {
    server = await startAccountsServer();
    await register(server, 'alice');
    const token = tokenOf(lastMail(server, emailOf('alice'), 'confirm-email'));
    const page = await send(server, 'GET', `/api/v1/auth/confirm?token=${token}`);
    const cookie = String(page.headers['set-cookie']);
    // Attribute order is the cookie library's; the set of attributes is the contract.
    expect(cookie).toMatch(/^verstak_locale_csrf=[0-9a-f]{64}; /);
    expect(cookie.split('; ').slice(1).sort()).toEqual(
      ['HttpOnly', 'Max-Age=86400', 'Path=/', 'SameSite=Strict', 'Secure'].sort(),
    );
    const formToken = /name="locale_csrf" value="([0-9a-f]{64})"/.exec(page.body)![1]!;
    const form = (fields: Record<string, string>, headers: Record<string, string>) =>
      send(server, 'POST', '/api/v1/auth/confirm', undefined, {
        payload: new URLSearchParams(fields).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      });
    const cookieHeader = cookie.split(';')[0]!;
    const forged = await form({ token, locale_csrf: 'f'.repeat(64) }, { cookie: cookieHeader });
    expect(forged.statusCode).toBe(403);
    const crossSite = await form(
      { token, locale_csrf: formToken },
      { cookie: cookieHeader, origin: 'https://evil.example' },
    );
    expect(crossSite.statusCode).toBe(403);
    expect(eventsOfType(server, 'EmailConfirmed')).toEqual([]);

    const ok = await form(
      { token, locale_csrf: formToken },
      { cookie: cookieHeader, origin: PUBLIC_URL },
    );
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/confirm/result');
    const result = await send(server, 'GET', '/confirm/result');
    expect(result.statusCode).toBe(200);
    expect(result.body).toContain('E-mail address confirmed');
    const reused = await form({ token, locale_csrf: formToken }, { cookie: cookieHeader });
    expect(reused.statusCode).toBe(400);
    expect(reused.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('refuses an expired link (48 h) with 400 invalid_request', async () => {
    const clock = createManualClock('2026-03-01T10:00:00Z');
    server = await startAccountsServer({ clock });
    await register(server, 'alice');
    const token = tokenOf(lastMail(server, emailOf('alice'), 'confirm-email'));
    clock.advance(49 * HOUR);
    const res = await confirm(server, token);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'token expired', code: 'invalid_request' });
    const unknown = await confirm(server, 'a'.repeat(64));
    expect(unknown.json()).toEqual({ error: 'invalid or expired token', code: 'invalid_request' });
    expect((await confirm(server, '')).json()).toEqual({
      error: 'token required',
      code: 'invalid_request',
    });
  });
});
