import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/clock.js';
import type { TestServer } from '../../helpers/sync-app.js';
import {
  HOUR,
  MINUTE,
  PASSWORD,
  PUBLIC_URL,
  comparableHeaders,
  devicesWith,
  emailOf,
  eventsOfType,
  lastMail,
  login,
  outbox,
  pairWith,
  post,
  registerConfirmed,
  send,
  sessionOf,
  startAccountsServer,
  tokenOf,
} from './helpers.js';

const NEW_PASSWORD = 'second password 2';

let server: TestServer;
afterEach(async () => server.close());

const forgot = (email: string, remoteAddress = '127.0.0.1') =>
  post(server, '/api/v1/auth/forgot', { email }, { remoteAddress });
const reset = (token: string, password = NEW_PASSWORD) =>
  post(server, '/api/v1/auth/reset', { token, new_password: password });
const resetMails = () =>
  outbox(server, emailOf('alice')).filter((m) => m.template === 'reset-password');

describe('a password reset', () => {
  it('mails a link, sets the new password, ends every session and keeps devices', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    const device = (await pairWith(server, 'alice', PASSWORD)).json();
    const before = await sessionOf(server, 'alice');
    const other = await sessionOf(server, 'alice');

    const asked = await forgot('  Alice@Example.TEST ');
    expect(asked.statusCode).toBe(200);
    expect(asked.json()).toEqual({ status: 'if email exists, reset link sent' });
    const mail = lastMail(server, emailOf('alice'), 'reset-password');
    expect(mail.params.username).toBe('alice');
    expect(mail.params.link).toMatch(new RegExp(`^${PUBLIC_URL}/reset\\?token=[0-9a-f]{64}$`));

    const done = await reset(tokenOf(mail));
    expect(done.statusCode).toBe(200);
    expect(done.json()).toEqual({ status: 'password reset' });
    expect((await login(server, 'alice')).statusCode).toBe(401);
    expect((await login(server, 'alice', NEW_PASSWORD)).statusCode).toBe(200);
    for (const session of [before, other]) {
      const res = await devicesWith(server, session.token);
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('/login');
    }
    expect(eventsOfType(server, 'SessionEnded').map((e) => e.data.reason)).toEqual([
      'password_reset',
      'password_reset',
    ]);
    const me = await send(server, 'GET', '/api/client/me', undefined, {
      headers: { authorization: `Bearer ${device.device_token}` },
    });
    expect(me.statusCode).toBe(200);
    expect(lastMail(server, emailOf('alice'), 'password-changed').params).toEqual({
      link: `${PUBLIC_URL}/forgot`,
      username: 'alice',
    });

    const reused = await reset(tokenOf(mail), 'third password 3');
    expect(reused.statusCode).toBe(400);
    expect(reused.json()).toEqual({ error: 'invalid or expired token', code: 'invalid_request' });
    expect((await login(server, 'alice', NEW_PASSWORD)).statusCode).toBe(200);
  });

  it('refuses a link older than 30 minutes and leaves the password unchanged', async () => {
    const clock = createManualClock('2026-03-01T10:00:00Z');
    server = await startAccountsServer({ clock });
    await registerConfirmed(server, 'alice');
    await forgot(emailOf('alice'));
    const token = tokenOf(lastMail(server, emailOf('alice'), 'reset-password'));
    clock.advance(31 * MINUTE);
    const res = await reset(token);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'token expired', code: 'invalid_request' });
    expect((await login(server, 'alice')).statusCode).toBe(200);
  });

  it('voids an older link when a newer one is sent', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    await forgot(emailOf('alice'));
    const older = tokenOf(lastMail(server, emailOf('alice'), 'reset-password'));
    await forgot(emailOf('alice'));
    const newer = tokenOf(lastMail(server, emailOf('alice'), 'reset-password'));
    expect((await reset(older)).statusCode).toBe(400);
    expect((await reset(newer)).statusCode).toBe(200);
  });

  it('applies the password rules and needs both fields', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    await forgot(emailOf('alice'));
    const token = tokenOf(lastMail(server, emailOf('alice'), 'reset-password'));
    expect((await reset(token, 'short')).json()).toEqual({
      error: 'PASSWORD_TOO_SHORT',
      code: 'invalid_request',
    });
    expect((await reset(token, 'y'.repeat(257))).json()).toEqual({
      error: 'PASSWORD_TOO_LONG',
      code: 'invalid_request',
    });
    expect((await post(server, '/api/v1/auth/reset', { token })).statusCode).toBe(400);
    expect((await reset('not-a-token')).json()).toEqual({
      error: 'invalid or expired token',
      code: 'invalid_request',
    });
    expect((await reset(token)).statusCode).toBe(200);
  });

  it('can be completed by an account whose logins are throttled', async () => {
    const clock = createManualClock('2026-03-01T10:00:00Z');
    server = await startAccountsServer({ clock });
    await registerConfirmed(server, 'alice');
    for (let i = 0; i < 10; i++) {
      const res = await post(
        server,
        '/api/v1/auth/login',
        { username: 'alice', password: 'wrong!!!!' },
        { remoteAddress: `10.0.0.${i}` },
      );
      expect(res.statusCode).toBe(401);
    }
    const throttled = await post(
      server,
      '/api/v1/auth/login',
      { username: 'alice', password: PASSWORD },
      { remoteAddress: '10.0.1.1' },
    );
    expect(throttled.statusCode).toBe(429);
    await forgot(emailOf('alice'));
    expect(
      (await reset(tokenOf(lastMail(server, emailOf('alice'), 'reset-password')))).statusCode,
    ).toBe(200);
    clock.advance(10 * MINUTE);
    expect((await login(server, 'alice', NEW_PASSWORD)).statusCode).toBe(200);
  });
});

describe('forgot password', () => {
  it('answers a known and an unknown address identically and mails only the known one', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    const known = await forgot(emailOf('alice'));
    const unknown = await forgot('nobody@example.test');
    expect(unknown.statusCode).toBe(known.statusCode);
    expect(unknown.body).toBe(known.body);
    expect(comparableHeaders(unknown)).toEqual(comparableHeaders(known));
    expect(outbox(server, 'nobody@example.test')).toEqual([]);
    expect(resetMails()).toHaveLength(1);
    // The address is kept only as a digest keyed by the secret box (typed-digest.ts).
    expect(eventsOfType(server, 'PasswordResetRefused')).toEqual([
      {
        stream: expect.stringMatching(/^login\/typed:[0-9a-f]{16}$/),
        data: { typed: expect.stringMatching(/^[0-9a-f]{16}$/), reason: 'unknown_email' },
      },
    ]);
    const empty = await forgot('  ');
    expect(empty.statusCode).toBe(400);
    expect(empty.json().code).toBe('invalid_request');
  });

  it('mails at most three links an hour per account, answering the same', async () => {
    const clock = createManualClock('2026-03-01T10:00:00Z');
    server = await startAccountsServer({ clock });
    await registerConfirmed(server, 'alice');
    const answers = [];
    for (let i = 0; i < 4; i++) {
      answers.push(await forgot(emailOf('alice'), `10.0.0.${i}`));
      clock.advance(MINUTE);
    }
    expect(new Set(answers.map((a) => `${a.statusCode} ${a.body}`))).toEqual(
      new Set(['200 {"status":"if email exists, reset link sent"}\n']),
    );
    expect(resetMails()).toHaveLength(3);
    expect(eventsOfType(server, 'PasswordResetRefused').map((e) => e.data.reason)).toEqual([
      'too_many_requests',
    ]);
    clock.advance(HOUR);
    await forgot(emailOf('alice'), '10.0.0.9');
    expect(resetMails()).toHaveLength(4);
  });
});
