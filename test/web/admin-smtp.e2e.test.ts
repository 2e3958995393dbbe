import { describe, expect, it } from 'vitest';
import { findSettings } from '../../src/projections/settings.js';
import { logHead } from './admin-rig.js';
import {
  appendedBy,
  closedPort,
  diskBytes,
  expectNoSmtpPassword,
  FROM,
  settingsAction,
  SMTP_PASS,
  SMTP_USER,
  startMailer,
  startSettingsRig,
  startSink,
  type SettingsRig,
} from './admin-settings-rig.js';

// CONTRACT.md §11 `smtp` and `smtp-test`, §10 /admin/api/smtp and /admin/api/smtp/test,
// against a real SMTP server on 127.0.0.1; the password never in clear on disk or in the log.

const smtpForm = (port: number, extra: Record<string, string> = {}) => ({
  smtp_host: '127.0.0.1',
  smtp_port: String(port),
  smtp_security: 'none',
  smtp_user: SMTP_USER,
  smtp_pass: SMTP_PASS,
  smtp_from: FROM,
  ...extra,
});

const csrfOf = (rig: SettingsRig) => rig.client.cookies.get('csrf_token') ?? '';

function apiTest(rig: SettingsRig, body: object, csrf = csrfOf(rig)) {
  return rig.server.app.inject({
    method: 'POST',
    url: '/admin/api/smtp/test',
    headers: { cookie: rig.client.cookieHeader(), 'x-csrf-token': csrf },
    payload: body,
  });
}

function apiSmtp(rig: SettingsRig, fields: Record<string, string>, csrf = csrfOf(rig)) {
  return rig.server.app.inject({
    method: 'POST',
    url: '/admin/api/smtp',
    headers: {
      cookie: rig.client.cookieHeader(),
      'content-type': 'application/x-www-form-urlencoded',
    },
    payload: new URLSearchParams({ ...fields, csrf_token: csrf }).toString(),
  });
}

describe('the smtp action', () => {
  it('appends SmtpSettingsChanged with the password only as a cipher, and keeps it when left empty', async () => {
    const rig = await startSettingsRig();
    const { server, client } = rig;
    let res;
    const events = await appendedBy(server, async () => {
      res = await settingsAction(client, 'smtp', smtpForm(2525));
    });
    expect(res!.statusCode, res!.body).toBe(303);
    expect(res!.headers.location).toBe('/admin/settings?flash=smtp_saved');
    expect(events).toHaveLength(1);
    expect(events[0]!.type).toBe('SmtpSettingsChanged');
    const { passwordCipher, ...rest } = events[0]!.data;
    expect(rest).toEqual({
      host: '127.0.0.1',
      port: 2525,
      security: 'none',
      user: SMTP_USER,
      from: FROM,
      publicUrl: '',
    });
    expect(typeof passwordCipher).toBe('string');
    const stored = findSettings(server.runtime.db)!;
    expect(server.runtime.settings.decryptPassword(stored.passwordCipher!)).toBe(SMTP_PASS);

    // The page never echoes it; saving without one keeps it, and changes nothing else.
    const page = (await client.get('/admin/settings?flash=smtp_saved')).body;
    expect(page).toContain('Mail settings saved.');
    expect(page).toContain('A password is saved. Leave this empty to keep it.');
    expectNoSmtpPassword(page, 'the settings page');
    expect(page).not.toContain(stored.passwordCipher!);
    expect(
      await appendedBy(server, () =>
        settingsAction(client, 'smtp', smtpForm(2525, { smtp_pass: '' })),
      ),
    ).toEqual([]);
    // Empty values overwrite (CONTRACT.md §11): no user, so no password either.
    await settingsAction(client, 'smtp', smtpForm(2526, { smtp_user: '', smtp_pass: '' }));
    expect(findSettings(server.runtime.db)).toEqual({
      host: '127.0.0.1',
      port: 2526,
      security: 'none',
      user: '',
      from: FROM,
      publicUrl: '',
    });
  });

  it('keeps the public URL the web settings saved', async () => {
    const { server, client } = await startSettingsRig();
    await settingsAction(client, 'web-settings', {
      default_locale: 'en',
      allow_registration: 'on',
      public_url: 'https://sync.example.org',
    });
    await settingsAction(client, 'smtp', smtpForm(2525));
    expect(findSettings(server.runtime.db)?.publicUrl).toBe('https://sync.example.org');
  });

  it('refuses a wrong password with 403 and changes nothing', async () => {
    const { server, client } = await startSettingsRig();
    const head = logHead(server);
    const res = await settingsAction(client, 'smtp', smtpForm(2525), 'wrong admin password');
    expect(res.statusCode).toBe(403);
    expect(logHead(server)).toBe(head);
    expect(findSettings(server.runtime.db)).toBeUndefined();
  });

  it.each([
    ['smtp_port', '70000', 'The port must be a number from 1 to 65535.'],
    ['smtp_port', '25abc', 'The port must be a number from 1 to 65535.'],
    ['smtp_host', 'smtp host', 'bare host name'],
    ['smtp_from', 'Sync <sync@example.test>', 'bare address'],
    ['smtp_security', 'ssl', 'Choose one of the security modes.'],
  ])('refuses %s %j with 400 and the message', async (name, value, message) => {
    const { server, client } = await startSettingsRig();
    const head = logHead(server);
    const res = await settingsAction(client, 'smtp', smtpForm(2525, { [name]: value }));
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain(message);
    expectNoSmtpPassword(res.body, 'the refused form');
    expect(logHead(server)).toBe(head);
  });
});

describe('the smtp-test action', () => {
  it('sends the test mail through the stored settings and reports it passed', async () => {
    const rig = await startSettingsRig();
    const sink = await startSink({ auth: { user: SMTP_USER, pass: SMTP_PASS } });
    startMailer(rig);
    await settingsAction(rig.client, 'smtp', smtpForm(sink.port));
    let res;
    const events = await appendedBy(rig.server, async () => {
      res = await settingsAction(rig.client, 'smtp-test', { test_to: 'admin@example.test' });
    });
    expect(res!.statusCode, res!.body).toBe(303);
    expect(res!.headers.location).toBe('/admin/settings?flash=smtp_test_passed');
    expect(events).toEqual([{ type: 'SmtpTestRequested', data: { to: 'admin@example.test' } }]);
    const [mail] = await sink.waitForMessages(1);
    expect(mail!.to).toEqual(['admin@example.test']);
    expect(mail!.subject).toBe('Verstak Sync — test message');
    expect(mail!.user).toBe(SMTP_USER);
    const page = (await rig.client.get(res!.headers.location as string)).body;
    expect(page).toContain('The SMTP server accepted the test mail.');

    // Everything the server keeps and logged: never the password in any readable form.
    expectNoSmtpPassword(diskBytes(rig.server), 'the data directory');
    expectNoSmtpPassword(rig.logs.join('\n'), 'the log');
  });

  it('sends to the sender address when no recipient is given', async () => {
    const rig = await startSettingsRig();
    const sink = await startSink();
    startMailer(rig);
    await settingsAction(rig.client, 'smtp', smtpForm(sink.port, { smtp_user: '', smtp_pass: '' }));
    const res = await settingsAction(rig.client, 'smtp-test', { test_to: '' });
    expect(res.headers.location).toBe('/admin/settings?flash=smtp_test_passed');
    expect((await sink.waitForMessages(1))[0]!.to).toEqual([FROM]);
  });

  it('reports a server that is down as failed, with the details only in the log', async () => {
    const rig = await startSettingsRig();
    startMailer(rig);
    await settingsAction(rig.client, 'smtp', smtpForm(await closedPort()));
    const res = await settingsAction(rig.client, 'smtp-test', { test_to: '' });
    expect(res.headers.location).toBe('/admin/settings?flash=smtp_test_failed');
    const page = (await rig.client.get(res.headers.location as string)).body;
    expect(page).toContain('The test mail could not be sent.');
    expect(page).not.toMatch(/ECONNREFUSED|refused|connect /i);
    expect(
      rig.logs.some((l) => l.includes('smtp test mail failed') && l.includes('ECONNREFUSED')),
    ).toBe(true);
    expectNoSmtpPassword(rig.logs.join('\n'), 'the log');
  });

  it('says pending when no sender has tried the mail within the wait', async () => {
    const rig = await startSettingsRig();
    await settingsAction(rig.client, 'smtp', smtpForm(2525));
    const started = Date.now();
    const res = await settingsAction(rig.client, 'smtp-test', { test_to: '' });
    expect(res.headers.location).toBe('/admin/settings?flash=smtp_test_pending');
    expect(Date.now() - started).toBeLessThan(8_000);
  }, 15_000);

  it('refuses before any SMTP setting exists, and a bad recipient, changing nothing', async () => {
    const { server, client } = await startSettingsRig();
    const head = logHead(server);
    const unset = await settingsAction(client, 'smtp-test', { test_to: '' });
    expect(unset.headers.location).toBe('/admin/settings?flash=smtp_not_configured');
    await settingsAction(client, 'smtp', smtpForm(2525));
    const afterSmtp = logHead(server);
    expect(afterSmtp).toBe(head + 1);
    const bad = await settingsAction(client, 'smtp-test', { test_to: 'a@b@c' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('The recipient must be a bare e-mail address.');
    const wrong = await settingsAction(client, 'smtp-test', { test_to: '' }, 'not it');
    expect(wrong.statusCode).toBe(403);
    expect(logHead(server)).toBe(afterSmtp);
  });
});

describe('POST /admin/api/smtp', () => {
  it('stores only the fields given and answers 302 /admin/dashboard', async () => {
    const rig = await startSettingsRig();
    let res;
    const events = await appendedBy(rig.server, async () => {
      res = await apiSmtp(rig, { ...smtpForm(2525), server_url: 'https://api.example.org' });
    });
    expect(res!.statusCode, res!.body).toBe(302);
    expect(res!.headers.location).toBe('/admin/dashboard');
    expect(events.map((e) => e.type)).toEqual(['SmtpSettingsChanged']);
    expect(events[0]!.data).toMatchObject({
      host: '127.0.0.1',
      publicUrl: 'https://api.example.org',
    });
    const cipher = findSettings(rig.server.runtime.db)!.passwordCipher;

    await apiSmtp(rig, { smtp_port: '2600', smtp_host: '', smtp_pass: '' });
    expect(findSettings(rig.server.runtime.db)).toEqual({
      host: '127.0.0.1',
      port: 2600,
      security: 'none',
      user: SMTP_USER,
      passwordCipher: cipher,
      from: FROM,
      publicUrl: 'https://api.example.org',
    });
    expectNoSmtpPassword(diskBytes(rig.server), 'the data directory');
    expectNoSmtpPassword(rig.logs.join('\n'), 'the log');
  });

  it('refuses without CSRF (403) and bad values (400), as JSON, changing nothing', async () => {
    const rig = await startSettingsRig();
    const head = logHead(rig.server);
    const forged = await apiSmtp(rig, smtpForm(2525), 'f'.repeat(64));
    expect(forged.statusCode).toBe(403);
    expect(forged.json()).toMatchObject({ code: 'csrf_invalid' });
    const bad = await apiSmtp(rig, smtpForm(2525, { smtp_port: '0' }));
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'invalid_request' });
    const anonymous = await rig.server.app.inject({ method: 'POST', url: '/admin/api/smtp' });
    expect(anonymous.statusCode).toBe(302);
    expect(anonymous.headers.location).toBe('/admin/login');
    expect(logHead(rig.server)).toBe(head);
  });
});

describe('POST /admin/api/smtp/test', () => {
  it('tests the settings given without storing them: the mail arrives', async () => {
    const rig = await startSettingsRig();
    const sink = await startSink({ auth: { user: SMTP_USER, pass: SMTP_PASS } });
    const head = logHead(rig.server);
    const res = await apiTest(rig, {
      smtp_host: '127.0.0.1',
      smtp_port: sink.port,
      smtp_security: 'none',
      smtp_user: SMTP_USER,
      smtp_pass: SMTP_PASS,
      smtp_from: FROM,
      test_to: 'ops@example.test',
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    const [mail] = await sink.waitForMessages(1);
    expect(mail!.to).toEqual(['ops@example.test']);
    expect(mail!.user).toBe(SMTP_USER);
    expect(logHead(rig.server)).toBe(head);
    expect(findSettings(rig.server.runtime.db)).toBeUndefined();
  });

  it('uses the saved password when none is given for the saved user', async () => {
    const rig = await startSettingsRig();
    const sink = await startSink({ auth: { user: SMTP_USER, pass: SMTP_PASS } });
    await settingsAction(rig.client, 'smtp', smtpForm(1));
    const res = await apiTest(rig, {
      smtp_host: '127.0.0.1',
      smtp_port: String(sink.port),
      smtp_security: 'none',
      smtp_user: SMTP_USER,
      smtp_from: FROM,
    });
    expect(res.json()).toEqual({ ok: true });
    expect((await sink.waitForMessages(1))[0]!.to).toEqual([FROM]);
  });

  it('answers ok:false with a generic text for a wrong password or a closed port; details in the log', async () => {
    const rig = await startSettingsRig();
    const sink = await startSink({ auth: { user: SMTP_USER, pass: 'the right one' } });
    const base = { smtp_host: '127.0.0.1', smtp_security: 'none', smtp_from: FROM };
    const refused = await apiTest(rig, {
      ...base,
      smtp_port: sink.port,
      smtp_user: SMTP_USER,
      smtp_pass: SMTP_PASS,
    });
    expect(refused.statusCode).toBe(200);
    expect(refused.json()).toEqual({
      ok: false,
      error:
        'The SMTP server could not be reached or refused the message. The server log has the details.',
    });
    const down = await apiTest(rig, { ...base, smtp_port: await closedPort() }, csrfOf(rig));
    expect(down.json()).toMatchObject({ ok: false });
    expect(down.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
    const failures = rig.logs.filter((l) => l.includes('smtp test failed'));
    expect(failures).toHaveLength(2);
    expect(failures[1]).toContain('ECONNREFUSED');
    expect(sink.messages).toEqual([]);
    expectNoSmtpPassword(rig.logs.join('\n'), 'the log');
  });

  it('answers in the admin language, refuses forged requests and bad shapes', async () => {
    const rig = await startSettingsRig();
    const ru = await rig.server.app.inject({
      method: 'POST',
      url: '/admin/api/smtp/test',
      headers: {
        cookie: `${rig.client.cookieHeader()}; verstak_locale=ru`,
        'x-csrf-token': csrfOf(rig),
      },
      payload: {
        smtp_host: '127.0.0.1',
        smtp_port: await closedPort(),
        smtp_security: 'none',
        smtp_from: FROM,
      },
    });
    expect(ru.json<{ error: string }>().error).toContain('SMTP-сервер недоступен');
    const forged = await apiTest(rig, { smtp_host: '127.0.0.1' }, 'f'.repeat(64));
    expect(forged.statusCode).toBe(403);
    const noHost = await apiTest(rig, { smtp_from: FROM });
    expect(noHost.statusCode).toBe(400);
    expect(noHost.json()).toMatchObject({ code: 'invalid_request' });
    const badTo = await apiTest(rig, { smtp_host: 'h', smtp_from: FROM, test_to: 'x' });
    expect(badTo.statusCode).toBe(400);
  });
});
