import { describe, expect, it } from 'vitest';
import { findSettings, findWebSettings } from '../../src/projections/settings.js';
import { langOf, WebClient } from './browser-client.js';
import { logHead } from './admin-rig.js';
import { appendedBy, settingsAction, startSettingsRig } from './admin-settings-rig.js';

// CONTRACT.md §9 /admin/settings and §11 `web-settings`: default locale, registration,
// server name and public URL, each saved as an event, and where each of them shows.

const WEB = {
  default_locale: 'en',
  allow_registration: 'on',
  server_name: '',
  public_url: '',
};

describe('the settings page', () => {
  it('shows the settings in force, warns without a public URL, and never shows a password', async () => {
    const { server, client } = await startSettingsRig();
    const res = await client.get('/admin/settings');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toContain('No public URL is set');
    expect(res.body).toContain('Mail is not set up yet');
    expect(res.body).toMatch(
      /id="web-registration" name="allow_registration" type="checkbox" checked/,
    );
    expect(res.body).toContain('<option value="en" lang="en" selected>');
    expect(res.body).toContain('href="/admin/settings" aria-current="page"');
    // Nothing to test with before mail is set up.
    expect(res.body).not.toContain('value="smtp-test"');
    expect(logHead(server)).toBeGreaterThan(0);
  });

  it('answers /admin/login to a browser without an admin session', async () => {
    const { server } = await startSettingsRig();
    const res = await server.app.inject({ method: 'GET', url: '/admin/settings' });
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe('/admin/login');
  });
});

describe('web-settings', () => {
  it('appends WebSettingsChanged, and the public URL as the SMTP settings event', async () => {
    const { server, client } = await startSettingsRig();
    let res;
    const events = await appendedBy(server, async () => {
      res = await settingsAction(client, 'web-settings', {
        default_locale: 'ru',
        server_name: '  Team Sync  ',
        public_url: 'https://sync.example.org/',
      });
    });
    expect(res!.statusCode, res!.body).toBe(303);
    expect(res!.headers.location).toBe('/admin/settings?flash=settings_saved');
    expect(events).toEqual([
      {
        type: 'WebSettingsChanged',
        data: { defaultLocale: 'ru', allowRegistration: false, serverName: 'Team Sync' },
      },
      {
        type: 'SmtpSettingsChanged',
        data: {
          host: '',
          port: 587,
          security: 'starttls',
          user: '',
          from: '',
          publicUrl: 'https://sync.example.org',
        },
      },
    ]);
    expect(findWebSettings(server.runtime.db)).toEqual({
      defaultLocale: 'ru',
      allowRegistration: false,
      serverName: 'Team Sync',
    });
    expect(server.runtime.configuredPublicUrl()).toBe('https://sync.example.org');
    const page = await client.get('/admin/settings?flash=settings_saved');
    expect(page.body).toContain('Web settings saved.');
    expect(page.body).not.toContain('No public URL is set');
  });

  it('appends only what changed: nothing for the same values, one event for one field', async () => {
    const { server, client } = await startSettingsRig();
    // The values config.yml already gives: nothing to record.
    expect(await appendedBy(server, () => settingsAction(client, 'web-settings', WEB))).toEqual([]);
    const named = await appendedBy(server, () =>
      settingsAction(client, 'web-settings', { ...WEB, server_name: 'Home' }),
    );
    expect(named.map((e) => e.type)).toEqual(['WebSettingsChanged']);
    const url = await appendedBy(server, () =>
      settingsAction(client, 'web-settings', {
        ...WEB,
        server_name: 'Home',
        public_url: 'http://10.0.0.5:47732',
      }),
    );
    expect(url.map((e) => e.type)).toEqual(['SmtpSettingsChanged']);
    expect(findSettings(server.runtime.db)?.publicUrl).toBe('http://10.0.0.5:47732');
  });

  it('keeps the SMTP settings, password included, when only the public URL changes', async () => {
    const { server, client } = await startSettingsRig();
    server.runtime.settings.changeSmtp(
      {
        host: 'smtp.example.test',
        port: 465,
        security: 'tls',
        user: 'mailer',
        password: 'kept secret',
        from: 'sync@example.test',
        publicUrl: '',
      },
      { actor: 'test' },
    );
    const before = findSettings(server.runtime.db)!;
    await settingsAction(client, 'web-settings', { ...WEB, public_url: 'https://a.example.org' });
    expect(findSettings(server.runtime.db)).toEqual({
      ...before,
      publicUrl: 'https://a.example.org',
    });
    // Cleared again: the links fall back to config.yml, else the listen address.
    await settingsAction(client, 'web-settings', WEB);
    expect(server.runtime.configuredPublicUrl()).toBe('');
  });

  it('refuses a wrong password with 403 and changes nothing', async () => {
    const { server, client } = await startSettingsRig();
    const head = logHead(server);
    const res = await settingsAction(
      client,
      'web-settings',
      { ...WEB, allow_registration: '' },
      'not the password',
    );
    expect(res.statusCode).toBe(403);
    expect(logHead(server)).toBe(head);
    expect(server.runtime.webSettings().allowRegistration).toBe(true);
  });

  it.each([
    ['public_url', 'ftp://example.org', 'absolute http:// or https://'],
    ['public_url', 'https://user:pw@example.org', 'absolute http:// or https://'],
    ['default_locale', 'de', 'Choose English or Russian'],
    ['server_name', 'x'.repeat(81), 'at most 80 characters'],
  ])('refuses %s %j with 400, the message and the values sent', async (name, value, message) => {
    const { server, client } = await startSettingsRig();
    const head = logHead(server);
    const res = await settingsAction(client, 'web-settings', {
      ...WEB,
      server_name: 'Kept in the form',
      [name]: value,
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain(message);
    expect(res.body).toContain('class="flash flash-error"');
    if (name !== 'server_name') expect(res.body).toContain('value="Kept in the form"');
    expect(logHead(server)).toBe(head);
  });
});

describe('where the web settings show', () => {
  it('closes registration: /register is a 404 page, the API refuses, the links go; open again restores it', async () => {
    const { server, client } = await startSettingsRig();
    const guest = new WebClient(server.app);
    expect((await guest.get('/')).body).toContain('href="/register"');

    await settingsAction(client, 'web-settings', { ...WEB, allow_registration: '' });
    expect((await guest.get('/register')).statusCode).toBe(404);
    const home = (await guest.get('/')).body;
    expect(home).not.toContain('href="/register"');
    expect((await guest.get('/login')).body).not.toContain('href="/register"');
    const head = logHead(server);
    const form = await guest.post('/register', {
      username: 'eve',
      email: 'eve@example.test',
      password: 'long enough password',
      locale_csrf: guest.cookies.get('verstak_locale_csrf') ?? '',
    });
    expect(form.statusCode).toBe(404);
    const api = await server.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { username: 'eve', email: 'eve@example.test', password: 'long enough password' },
    });
    expect(api.statusCode).toBe(403);
    expect(api.json()).toEqual({
      error: 'registration is disabled',
      code: 'registration_disabled',
    });
    expect(logHead(server)).toBe(head);

    await settingsAction(client, 'web-settings', WEB);
    expect((await guest.get('/register')).statusCode).toBe(200);
    expect((await guest.get('/')).body).toContain('href="/register"');
    const again = await server.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { username: 'eve', email: 'eve@example.test', password: 'long enough password' },
    });
    expect(again.statusCode, again.body).toBe(200);
  });

  it('uses the default locale for a browser that names no language', async () => {
    const { server, client } = await startSettingsRig();
    const bare = () => server.app.inject({ method: 'GET', url: '/' });
    expect(langOf((await bare()).body)).toBe('en');
    await settingsAction(client, 'web-settings', { ...WEB, default_locale: 'ru' });
    expect(langOf((await bare()).body)).toBe('ru');
    // The browser's own languages and the visitor's choice still win.
    const english = await server.app.inject({
      method: 'GET',
      url: '/',
      headers: { 'accept-language': 'en-GB' },
    });
    expect(langOf(english.body)).toBe('en');
    const chosen = await server.app.inject({
      method: 'GET',
      url: '/',
      headers: { cookie: 'verstak_locale=en' },
    });
    expect(langOf(chosen.body)).toBe('en');
  });

  it('shows the server name in the header and the title, else "Verstak Sync"', async () => {
    const { server, client } = await startSettingsRig();
    const home = async () => (await server.app.inject({ method: 'GET', url: '/' })).body;
    expect(await home()).toContain('<span>Verstak Sync</span>');
    await settingsAction(client, 'web-settings', { ...WEB, server_name: 'Team <Sync>' });
    const named = await home();
    expect(named).toContain('<span>Team &#60;Sync&#62;</span>');
    expect(named).toMatch(/<title>[^<]* — Team &#60;Sync&#62;<\/title>/);
    await settingsAction(client, 'web-settings', WEB);
    expect(await home()).toContain('<span>Verstak Sync</span>');
  });

  it('takes config.yml web.* (and the flat default_locale) until an admin saves', async () => {
    const { server, client } = await startSettingsRig({
      settings: {
        default_locale: 'ru',
        web: { allow_registration: false, server_name: 'From config' },
      },
    });
    expect(server.runtime.webSettings()).toEqual({
      defaultLocale: 'ru',
      allowRegistration: false,
      serverName: 'From config',
    });
    expect((await server.app.inject({ method: 'GET', url: '/register' })).statusCode).toBe(404);
    await settingsAction(client, 'web-settings', { ...WEB, server_name: 'Saved' });
    expect(server.runtime.webSettings()).toEqual({
      defaultLocale: 'en',
      allowRegistration: true,
      serverName: 'Saved',
    });
  });

  it('rebuilds the same settings from the log', async () => {
    const { server, client } = await startSettingsRig();
    await settingsAction(client, 'web-settings', {
      default_locale: 'ru',
      server_name: 'Replayed',
      public_url: 'https://r.example.org',
    });
    const before = { web: server.runtime.webSettings(), smtp: findSettings(server.runtime.db) };
    server.runtime.projector.rebuildAll();
    expect({ web: server.runtime.webSettings(), smtp: findSettings(server.runtime.db) }).toEqual(
      before,
    );
  });
});
