import { afterEach, describe, expect, it } from 'vitest';
import {
  closeMailFlows,
  emailOf,
  linkOf,
  NEW_PASSWORD,
  PASSWORD,
  pairDevice,
  pathOf,
  PUBLIC_URL,
  startMailFlow,
  type MailFlow,
} from '../http/accounts/mail-rig.js';
import { hiddenFields, WebClient } from './browser-client.js';

// The whole life of an account through the pages, with the real mailer and an SMTP sink:
// what a person does in a browser, one request at a time.

afterEach(closeMailFlows);

/** The browser of the flow's public URL: the Origin check compares with it. */
const browser = (flow: MailFlow) =>
  new WebClient(flow.server.app, { origin: PUBLIC_URL, 'accept-language': 'en' });

async function registerAndConfirm(flow: MailFlow, client: WebClient, username: string) {
  const registered = await client.submit('/register', '/register', {
    username,
    email: emailOf(username),
    password: PASSWORD,
  });
  expect(registered.statusCode, registered.body).toBe(303);
  expect(registered.headers.location).toBe('/register/result');
  const [mail] = await flow.mailsTo(emailOf(username), 1);
  const confirmPath = pathOf(linkOf(mail!, '/api/v1/auth/confirm?token='));
  const confirmed = await client.submit(confirmPath, '/api/v1/auth/confirm', {});
  expect(confirmed.statusCode, confirmed.body).toBe(303);
  expect(confirmed.headers.location).toBe('/confirm/result');
}

async function login(client: WebClient, username: string, password = PASSWORD) {
  return client.submit('/login', '/login', { username, password });
}

describe('an account through the pages', () => {
  it('registers, confirms by mail, signs in, sees and revokes a device, signs out', async () => {
    const flow = await startMailFlow();
    const client = browser(flow);
    await registerAndConfirm(flow, client, 'ann');

    const wrong = await login(client, 'ann', 'not the password');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toContain('Sign-in failed');
    const signedIn = await login(client, 'ann');
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers.location).toBe('/dashboard');
    const session = signedIn.cookies.find((c) => c.name === 'user_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: true });
    const csrf = signedIn.cookies.find((c) => c.name === 'csrf_token')!;
    expect(csrf).toMatchObject({ sameSite: 'Strict', path: '/', secure: true });
    expect(csrf.httpOnly).toBeFalsy();

    const paired = await pairDevice(flow, 'ann');
    expect(paired.statusCode, paired.body).toBe(200);
    const { device_token: deviceToken, device_id: deviceId } = paired.json<{
      device_token: string;
      device_id: string;
    }>();
    const dashboard = await client.get('/dashboard');
    expect(dashboard.statusCode).toBe(200);
    expect(dashboard.headers['cache-control']).toBe('no-store');
    expect(dashboard.body).toContain('ann@example.test');
    expect(dashboard.body).toContain('Confirmed');
    expect(dashboard.body).toContain('laptop');
    expect(dashboard.body).toContain('vault-1');
    expect(dashboard.body).toContain(`action="/api/v1/user/devices/${deviceId}/revoke"`);

    const revokeUrl = `/api/v1/user/devices/${deviceId}/revoke`;
    const badPassword = await client.submit('/dashboard', revokeUrl, { password: 'nope nope' });
    expect(badPassword.statusCode).toBe(303);
    expect(badPassword.headers.location).toBe('/dashboard?error=password');
    const me = () =>
      flow.request({
        url: '/api/client/me',
        headers: { authorization: `Bearer ${deviceToken}` },
      });
    expect((await me()).statusCode).toBe(200);

    const revoked = await client.submit('/dashboard', revokeUrl, { password: PASSWORD });
    expect(revoked.statusCode).toBe(303);
    expect(revoked.headers.location).toBe('/dashboard?revoked=1');
    expect((await me()).statusCode).toBe(401);
    const after = await client.get('/dashboard?revoked=1');
    expect(after.body).toContain('The device is revoked');
    expect(after.body).toContain('Revoked');

    const logout = await client.submit('/dashboard', '/logout', {});
    expect(logout.statusCode).toBe(302);
    expect(logout.headers.location).toBe('/login');
    expect(client.cookies.has('user_session')).toBe(false);
    // The session is gone on the server, not only in this browser.
    const replay = await flow.request({
      url: '/dashboard',
      headers: { cookie: `user_session=${session.value}` },
    });
    expect(replay.statusCode).toBe(302);
    expect((await flow.request({ method: 'GET', url: '/logout' })).statusCode).toBe(405);
  });

  it('resets a forgotten password from the mailed link and signs in with the new one', async () => {
    const flow = await startMailFlow();
    const client = browser(flow);
    await registerAndConfirm(flow, client, 'bea');

    const forgot = await client.submit('/forgot', '/forgot', { email: emailOf('bea') });
    expect(forgot.statusCode).toBe(303);
    expect(forgot.headers.location).toBe('/forgot/sent');
    const unknown = await client.submit('/forgot', '/forgot', { email: 'nobody@example.test' });
    expect(unknown.headers.location).toBe('/forgot/sent');

    const mails = await flow.mailsTo(emailOf('bea'), 2);
    const resetPath = pathOf(linkOf(mails[1]!, '/reset?token='));
    const page = await client.get(resetPath);
    expect(page.statusCode).toBe(200);
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['cache-control']).toBe('no-store');
    const fields = hiddenFields(page.body);
    expect(fields.token).toBe(new URL(`http://x${resetPath}`).searchParams.get('token'));
    // Switching the language comes back to the same link, still usable.
    const switched = await client.post('/locale', { ...fields, locale: 'ru' });
    expect(switched.headers.location).toBe(resetPath);
    expect((await client.get(resetPath)).body).toContain('<html lang="ru">');
    await client.post('/locale', { ...fields, locale: 'system' });

    const mismatch = await client.post('/reset', {
      ...fields,
      password: NEW_PASSWORD,
      confirm: 'something else',
    });
    expect(mismatch.statusCode).toBe(200);
    expect(mismatch.body).toContain('The two passwords differ.');
    const done = await client.post('/reset', {
      ...fields,
      password: NEW_PASSWORD,
      confirm: NEW_PASSWORD,
    });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/reset/done');
    // Single use: the link now leads back to the forgot page.
    const used = await client.get(resetPath);
    expect(used.statusCode).toBe(302);
    expect(used.headers.location).toBe('/forgot');

    expect((await login(client, 'bea')).statusCode).toBe(401);
    const signedIn = await login(client, 'bea', NEW_PASSWORD);
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers.location).toBe('/dashboard');
  });

  it('re-renders the registration form with a message for bad input and a taken name', async () => {
    const flow = await startMailFlow();
    const client = browser(flow);
    const bad = await client.submit('/register', '/register', {
      username: 'cat',
      email: 'not-an-address',
      password: PASSWORD,
    });
    expect(bad.statusCode).toBe(200);
    expect(bad.body).toContain('Enter a valid e-mail address.');
    expect(bad.body).toContain('value="cat"');
    await registerAndConfirm(flow, client, 'cat');
    const taken = await client.submit('/register', '/register', {
      username: 'CAT',
      email: 'other@example.test',
      password: PASSWORD,
    });
    expect(taken.statusCode).toBe(200);
    expect(taken.body).toContain('This username is already taken.');
  });
});
