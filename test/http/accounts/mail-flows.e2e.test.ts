import { csrfTokenOf } from '../../../src/web/tokens.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FROM,
  HOUR,
  MINUTE,
  NEW_PASSWORD,
  PASSWORD,
  PUBLIC_URL,
  closeMailFlows,
  comparableHeaders,
  confirm,
  devices,
  emailOf,
  linkOf,
  login,
  pairDevice,
  pathOf,
  register,
  registerConfirmed,
  startMailFlow,
  tokenIn,
  type MailFlow,
} from './mail-rig.js';

afterEach(closeMailFlows);

const CONFIRM_PATH = '/api/v1/auth/confirm?token=';
const RESET_PATH = '/reset?token=';
const TOKEN_LINK = (path: string) =>
  new RegExp(`^${PUBLIC_URL.replace(/\./g, '\\.')}${path.replace('?', '\\?')}[0-9a-f]{64}$`);

const forgot = (flow: MailFlow, email: string) => flow.post('/api/v1/auth/forgot', { email });
const reset = (flow: MailFlow, token: string, password = NEW_PASSWORD) =>
  flow.post('/api/v1/auth/reset', { token, new_password: password });

/** One more delivery round, then the mails to `to` (none may have been sent twice). */
async function settled(flow: MailFlow, to: string) {
  await flow.mailer.deliverDue();
  return flow.smtp.messages.filter((m) => m.to.includes(to));
}

describe('registration, confirmation and a first device over real SMTP', () => {
  it('mails a link to the public URL whatever the Host, confirms only on POST, then pairs', async () => {
    const flow = await startMailFlow();
    const res = await register(
      flow,
      'alice',
      {},
      { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'confirmation_sent' });

    const [mail] = await flow.mailsTo(emailOf('alice'), 1);
    expect(mail!.to).toEqual([emailOf('alice')]);
    expect(mail!.from).toBe(FROM);
    expect(mail!.headers.get('to')).toEqual([emailOf('alice')]);
    expect(mail!.headers.get('from')).toEqual([FROM]);
    expect(mail!.subject).toBe('Verstak Sync — confirm your email');
    expect(mail!.text).toContain('Hello, alice!');
    const link = linkOf(mail!, CONFIRM_PATH);
    expect(link).toMatch(TOKEN_LINK(CONFIRM_PATH));
    expect(mail!.raw).not.toContain('evil.example');
    const token = tokenIn(link);

    // A mail scanner or a curious click: the page asks, it does not confirm.
    const page = await flow.request({ method: 'GET', url: pathOf(link) });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain(`name="token" value="${token}"`);
    const early = await login(flow, 'alice');
    expect(early.statusCode).toBe(403);
    expect(early.json()).toEqual({ error: 'email not confirmed', code: 'forbidden' });

    const confirmed = await confirm(flow, token);
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json()).toEqual({ status: 'confirmed' });
    const session = await login(flow, 'alice');
    expect(session.statusCode).toBe(200);
    const { token: sessionToken, user_id } = session.json<{ token: string; user_id: string }>();

    const paired = await pairDevice(flow, 'alice');
    expect(paired.statusCode, paired.body).toBe(200);
    const device = paired.json<{ device_id: string; user_id: string }>();
    expect(device.user_id).toBe(user_id);
    const listed = await devices(flow, sessionToken);
    expect(listed.statusCode).toBe(200);
    expect(listed.json()).toEqual([
      expect.objectContaining({ id: device.device_id, name: 'laptop', vault_id: 'vault-1' }),
    ]);
    expect(await settled(flow, emailOf('alice'))).toHaveLength(1);
  });

  it('confirms from the mailed page form when the public URL comes from the settings', async () => {
    const flow = await startMailFlow();
    await register(flow, 'alice');
    const [mail] = await flow.mailsTo(emailOf('alice'), 1);
    const link = linkOf(mail!, CONFIRM_PATH);
    const page = await flow.request({ method: 'GET', url: pathOf(link) });
    const cookie = String(page.headers['set-cookie']);
    // The page is served at an https public URL: its form cookie must be Secure.
    expect(cookie.split('; ')).toContain('Secure');
    const formToken = /name="locale_csrf" value="([0-9a-f]{64})"/.exec(page.body)![1]!;
    // What the browser sends when the form on that page is submitted.
    const submitted = await flow.request({
      method: 'POST',
      url: '/api/v1/auth/confirm',
      payload: new URLSearchParams({ token: tokenIn(link), locale_csrf: formToken }).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: cookie.split(';')[0]!,
        origin: PUBLIC_URL,
      },
    });
    expect(submitted.statusCode, submitted.body).toBe(303);
    expect(submitted.headers.location).toBe('/confirm/result');

    // A signed-in page's own cookie POST passes the origin check against the same URL.
    const session = (await login(flow, 'alice')).json<{ token: string }>().token;
    const device = (await pairDevice(flow, 'alice')).json<{ device_id: string }>();
    const revoke = (origin: string) =>
      flow.request({
        method: 'POST',
        url: `/api/v1/user/devices/${device.device_id}/revoke`,
        payload: { password: PASSWORD },
        headers: {
          cookie: `user_session=${session}; csrf_token=${csrfTokenOf(session)}`,
          'x-csrf-token': csrfTokenOf(session),
          origin,
        },
      });
    expect((await revoke('https://evil.example')).statusCode).toBe(403);
    const revoked = await revoke(PUBLIC_URL);
    expect(revoked.statusCode, revoked.body).toBe(200);
  });
});

describe('a password reset over real SMTP', () => {
  it('mails a reset link, sets the new password, ends the old session and mails a notice', async () => {
    const flow = await startMailFlow();
    await registerConfirmed(flow, 'alice');
    const old = (await login(flow, 'alice')).json<{ token: string }>().token;
    expect((await devices(flow, old)).statusCode).toBe(200);

    const asked = await forgot(flow, emailOf('alice'));
    expect(asked.statusCode).toBe(200);
    const mails = await flow.mailsTo(emailOf('alice'), 2);
    const mail = mails[1]!;
    expect(mail.to).toEqual([emailOf('alice')]);
    expect(mail.subject).toBe('Verstak Sync — reset your password');
    const link = linkOf(mail, RESET_PATH);
    expect(link).toMatch(TOKEN_LINK(RESET_PATH));

    const done = await reset(flow, tokenIn(link));
    expect(done.statusCode, done.body).toBe(200);
    expect(done.json()).toEqual({ status: 'password reset' });
    const refused = await login(flow, 'alice');
    expect(refused.statusCode).toBe(401);
    expect((await login(flow, 'alice', NEW_PASSWORD)).statusCode).toBe(200);
    const stale = await devices(flow, old);
    expect(stale.statusCode).toBe(302);
    expect(stale.headers.location).toBe('/login');

    const notice = (await flow.mailsTo(emailOf('alice'), 3))[2]!;
    expect(notice.subject).toBe('Verstak Sync — your password was changed');
    expect(linkOf(notice, '/forgot')).toBe(`${PUBLIC_URL}/forgot`);
    expect(await settled(flow, emailOf('alice'))).toHaveLength(3);
  });
});

describe('mailed tokens that are too old or used', () => {
  const invalid = { error: 'invalid or expired token', code: 'invalid_request' };
  const expired = { error: 'token expired', code: 'invalid_request' };

  it('refuses a confirmation link after 48 hours and a second use of one', async () => {
    const flow = await startMailFlow();
    await register(flow, 'late');
    await register(flow, 'twice');
    const lateLink = linkOf((await flow.mailsTo(emailOf('late'), 1))[0]!, CONFIRM_PATH);
    const twiceLink = linkOf((await flow.mailsTo(emailOf('twice'), 1))[0]!, CONFIRM_PATH);

    expect((await confirm(flow, tokenIn(twiceLink))).statusCode).toBe(200);
    const reused = await confirm(flow, tokenIn(twiceLink));
    expect(reused.statusCode).toBe(400);
    expect(reused.json()).toEqual(invalid);

    flow.clock.advance(49 * HOUR);
    const tooLate = await confirm(flow, tokenIn(lateLink));
    expect(tooLate.statusCode).toBe(400);
    expect(tooLate.json()).toEqual(expired);
    expect((await login(flow, 'late')).statusCode).toBe(403);
  });

  it('refuses a reset link after 30 minutes and a second use of one', async () => {
    const flow = await startMailFlow();
    await registerConfirmed(flow, 'alice');
    await forgot(flow, emailOf('alice'));
    const first = linkOf((await flow.mailsTo(emailOf('alice'), 2))[1]!, RESET_PATH);
    flow.clock.advance(31 * MINUTE);
    const tooLate = await reset(flow, tokenIn(first));
    expect(tooLate.statusCode).toBe(400);
    expect(tooLate.json()).toEqual(expired);
    expect((await login(flow, 'alice')).statusCode).toBe(200);

    await forgot(flow, emailOf('alice'));
    const second = linkOf((await flow.mailsTo(emailOf('alice'), 3))[2]!, RESET_PATH);
    expect((await reset(flow, tokenIn(second))).statusCode).toBe(200);
    const reused = await reset(flow, tokenIn(second), 'a third password 3');
    expect(reused.statusCode).toBe(400);
    expect(reused.json()).toEqual(invalid);
    expect((await login(flow, 'alice', NEW_PASSWORD)).statusCode).toBe(200);
  });
});

describe('answers that do not tell whether an address has an account', () => {
  it('registers an existing address like a new one and mails its owner a notice', async () => {
    const flow = await startMailFlow();
    await registerConfirmed(flow, 'owner');
    const fresh = await register(flow, 'newbie');
    const again = await flow.post('/api/v1/auth/register', {
      username: 'attacker',
      email: emailOf('owner'),
      password: PASSWORD,
    });
    expect(again.statusCode).toBe(fresh.statusCode);
    expect(again.body).toBe(fresh.body);
    expect(comparableHeaders(again)).toEqual(comparableHeaders(fresh));

    const [, notice] = await flow.mailsTo(emailOf('owner'), 2);
    expect(notice!.subject).toBe('Verstak Sync — someone tried to register with your email');
    expect(notice!.text).toContain('Hello, owner!');
    expect(notice!.text).not.toContain('attacker');
    expect(notice!.text).not.toContain(CONFIRM_PATH);
    // The notice offers a password reset: its link opens the forgot-password page.
    expect(notice!.text).toContain('you can reset it here');
    expect(linkOf(notice!, '/forgot')).toBe(`${PUBLIC_URL}/forgot`);
    await flow.mailsTo(emailOf('newbie'), 1);
    // Three mails in all: no confirmation for the attacker's account went anywhere.
    await flow.mailer.deliverDue();
    expect(flow.smtp.messages.map((m) => [m.to[0], m.subject])).toEqual([
      [emailOf('owner'), 'Verstak Sync — confirm your email'],
      [emailOf('newbie'), 'Verstak Sync — confirm your email'],
      [emailOf('owner'), 'Verstak Sync — someone tried to register with your email'],
    ]);
    expect((await login(flow, 'attacker')).statusCode).toBe(401);
  });

  it('answers forgot for a known and an unknown address alike and mails only the known one', async () => {
    const flow = await startMailFlow();
    await registerConfirmed(flow, 'alice');
    const known = await forgot(flow, emailOf('alice'));
    const unknown = await forgot(flow, 'nobody@example.test');
    expect(unknown.statusCode).toBe(known.statusCode);
    expect(unknown.body).toBe(known.body);
    expect(comparableHeaders(unknown)).toEqual(comparableHeaders(known));

    await flow.mailsTo(emailOf('alice'), 2);
    await flow.mailer.deliverDue();
    expect(flow.smtp.messages.map((m) => [m.to[0], m.subject])).toEqual([
      [emailOf('alice'), 'Verstak Sync — confirm your email'],
      [emailOf('alice'), 'Verstak Sync — reset your password'],
    ]);
  });
});
