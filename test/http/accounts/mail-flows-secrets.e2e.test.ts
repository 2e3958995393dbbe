import { afterEach, describe, expect, it } from 'vitest';
import {
  NEW_PASSWORD,
  PASSWORD,
  closeMailFlows,
  confirm,
  emailOf,
  linkOf,
  login,
  pairDevice,
  pathOf,
  register,
  startMailFlow,
  tokenIn,
  type MailFlow,
} from './mail-rig.js';

afterEach(closeMailFlows);

const CONFIRM_PATH = '/api/v1/auth/confirm?token=';
const SMTP_USER = 'mailer';
const SMTP_PASS = 'smtp-Pa55word-flows-9d41e7';
const b64 = (s: string) => Buffer.from(s).toString('base64');

const pull = (flow: MailFlow, deviceToken: string) =>
  flow.request({
    method: 'POST',
    url: '/api/v1/sync/pull',
    headers: { authorization: `Bearer ${deviceToken}` },
    payload: { since_sequence: 0 },
  });

describe('secrets of a whole account life (RELIABILITY.md §2.13)', () => {
  it('keeps passwords, tokens from mails, sessions and the SMTP password out of the log, the logs and error bodies', async () => {
    const flow = await startMailFlow({ auth: { user: SMTP_USER, pass: SMTP_PASS } });
    const WRONG = 'a wrong password 7';
    const ATTACKER = 'attacker password 5';
    const secrets = new Set([PASSWORD, NEW_PASSWORD, WRONG, ATTACKER, SMTP_PASS]);
    // Forms in which the SMTP password crosses the wire during AUTH.
    for (const form of [b64(SMTP_PASS), b64(`\0${SMTP_USER}\0${SMTP_PASS}`)]) secrets.add(form);
    const keep = (value: string) => (secrets.add(value), value);

    await register(flow, 'alice');
    await login(flow, 'alice', WRONG);
    await login(flow, 'alice');
    const [confirmMail] = await flow.mailsTo(emailOf('alice'), 1);
    const confirmLink = linkOf(confirmMail!, CONFIRM_PATH);
    const confirmToken = keep(tokenIn(confirmLink));
    await flow.request({ method: 'GET', url: pathOf(confirmLink) });
    await confirm(flow, confirmToken);
    await confirm(flow, confirmToken);
    const session = keep((await login(flow, 'alice')).json<{ token: string }>().token);
    const device = (await pairDevice(flow, 'alice')).json<{ device_token: string }>();
    keep(device.device_token);
    await pull(flow, device.device_token);
    await flow.request({ method: 'GET', url: `/api/client/me?api_key=${device.device_token}` });
    await flow.request({
      method: 'GET',
      url: '/api/v1/user/devices',
      headers: { cookie: `user_session=${session}` },
    });
    await pairDevice(flow, 'alice', WRONG);

    await flow.post('/api/v1/auth/forgot', { email: emailOf('alice') });
    const [, resetMail] = await flow.mailsTo(emailOf('alice'), 2);
    const resetToken = keep(tokenIn(linkOf(resetMail!, '/reset?token=')));
    await flow.post('/api/v1/auth/reset', { token: resetToken, new_password: 'short' });
    await flow.post('/api/v1/auth/reset', { token: resetToken, new_password: NEW_PASSWORD });
    await flow.post('/api/v1/auth/reset', { token: resetToken, new_password: NEW_PASSWORD });
    await flow.request({
      method: 'GET',
      url: '/api/v1/user/devices',
      headers: { authorization: `Bearer ${session}` },
    });
    await login(flow, 'alice');
    keep((await login(flow, 'alice', NEW_PASSWORD)).json<{ token: string }>().token);
    await flow.post('/api/v1/auth/register', {
      username: 'mallory',
      email: emailOf('alice'),
      password: ATTACKER,
    });
    await login(flow, 'mallory', ATTACKER);
    // confirm, reset, password-changed, account-exists.
    const mails = await flow.mailsTo(emailOf('alice'), 4);
    await flow.mailer.deliverDue();
    for (const mail of mails) {
      for (const [, token] of mail.text.matchAll(/[?&]token=([^\s&"<>]+)/g)) keep(token!);
    }

    expect(mails.every((m) => m.user === SMTP_USER)).toBe(true);
    expect(flow.smtp.authAttempts.length).toBeGreaterThan(0);
    expect(flow.smtp.authAttempts.every((a) => a.ok && a.pass === SMTP_PASS)).toBe(true);
    expect(secrets.size).toBe(12);
    const stored = JSON.stringify(
      flow.server.runtime.db.prepare('SELECT type, data, meta FROM events').all(),
    );
    const outbox = JSON.stringify(
      flow.server.runtime.db.prepare('SELECT * FROM mail_outbox').all(),
    );
    const logs = flow.logs.join('');
    const failures = flow.answers.filter((a) => a.statusCode >= 300);
    const errorBodies = failures.map((a) => a.body).join('\n');
    // The checks below can fail: there is a log, there are events, and there are refusals.
    expect(logs).toContain('mail sent');
    expect(logs).toContain('/api/v1/auth/confirm?token=<redacted>');
    expect(stored).toContain('"type":"PasswordReset"');
    expect(failures.map((a) => a.statusCode).sort()).toEqual(
      [302, 400, 400, 400, 401, 401, 401, 401, 403].sort(),
    );
    for (const secret of secrets) {
      expect(stored.includes(secret), `events hold ${secret}`).toBe(false);
      expect(logs.includes(secret), `logs hold ${secret}`).toBe(false);
      expect(errorBodies.includes(secret), `an error body holds ${secret}`).toBe(false);
      // Sent mails lose their one-time links.
      expect(outbox.includes(secret), `the outbox holds ${secret}`).toBe(false);
    }
  });
});

describe('a blocked user', () => {
  it('is refused on pull, login and pairing after a correct password; unblocking restores the device', async () => {
    const flow = await startMailFlow();
    await register(flow, 'alice');
    const [mail] = await flow.mailsTo(emailOf('alice'), 1);
    expect((await confirm(flow, tokenIn(linkOf(mail!, CONFIRM_PATH)))).statusCode).toBe(200);
    const device = (await pairDevice(flow, 'alice')).json<{
      device_token: string;
      user_id: string;
    }>();
    expect((await pull(flow, device.device_token)).statusCode).toBe(200);

    flow.server.runtime.users.setBlocked(device.user_id, true, { actor: 'test' });
    const refused = await pull(flow, device.device_token);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toEqual({ error: 'user blocked', code: 'forbidden' });
    // The account state is told only to someone who knows the password.
    expect((await login(flow, 'alice', 'a wrong password 7')).statusCode).toBe(401);
    const blockedLogin = await login(flow, 'alice');
    expect(blockedLogin.statusCode).toBe(403);
    expect(blockedLogin.json()).toEqual({ error: 'account blocked', code: 'forbidden' });
    const pairing = await pairDevice(flow, 'alice', PASSWORD, 'vault-2');
    expect(pairing.statusCode).toBe(403);
    expect(pairing.json()).toEqual({ error: 'account blocked', code: 'forbidden' });

    flow.server.runtime.users.setBlocked(device.user_id, false, { actor: 'test' });
    expect((await pull(flow, device.device_token)).statusCode).toBe(200);
    expect((await login(flow, 'alice')).statusCode).toBe(200);
  });
});
