import type { FastifyInstance, InjectOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { useApps } from '../helpers/app.js';

// issue 12: no Strict-Transport-Security when the public URL is https. One year, on every
// answer (success, error, page, API); none when the public URL is http or unset, since a
// plain-http LAN install must keep working.

const openApp = useApps();

const SAMPLES: [string, InjectOptions][] = [
  ['a probe', { method: 'GET', url: '/livez' }],
  ['an API 404', { method: 'GET', url: '/api/v1/nothing' }],
  ['a page 404', { method: 'GET', url: '/no/such/page' }],
  ['a 405', { method: 'DELETE', url: '/api/v1/health' }],
  ['a 401', { method: 'POST', url: '/api/v1/sync/pull', payload: {} }],
  ['a 400', { method: 'POST', url: '/api/client/pair', payload: '{' }],
  ['the home page', { method: 'GET', url: '/' }],
];

async function strictTransportOf(app: FastifyInstance) {
  const seen: unknown[] = [];
  for (const [, request] of SAMPLES) {
    const res = await app.inject(request);
    expect(res.statusCode).toBeLessThan(500);
    seen.push(res.headers['strict-transport-security']);
  }
  return seen;
}

const everywhere = (value: string | undefined) => SAMPLES.map(() => value);

describe('Strict-Transport-Security', () => {
  it.each(['https://sync.example.test', 'HTTPS://Sync.Example.Test:8443/base/'])(
    'is sent on every answer when config.yml public_url is %s',
    async (publicUrl) => {
      const { app } = await openApp({ settings: { public_url: publicUrl } });
      expect(await strictTransportOf(app)).toEqual(everywhere('max-age=31536000'));
    },
  );

  it.each(['', 'http://sync.example.test', 'http://10.0.0.5:47732', 'not a url'])(
    'is not sent when the public URL is %j',
    async (publicUrl) => {
      const { app } = await openApp({ settings: { public_url: publicUrl } });
      expect(await strictTransportOf(app)).toEqual(everywhere(undefined));
    },
  );

  it('follows a public URL changed in the settings while the server runs', async () => {
    const { app, runtime } = await openApp({ settings: { public_url: 'http://lan.example' } });
    const setPublicUrl = (publicUrl: string) =>
      runtime.settings.changeWeb(
        { defaultLocale: 'en', allowRegistration: true, serverName: '', publicUrl },
        { actor: 'test' },
      );
    expect(await strictTransportOf(app)).toEqual(everywhere(undefined));
    expect(setPublicUrl('https://sync.example.test')).toBe(true);
    expect(await strictTransportOf(app)).toEqual(everywhere('max-age=31536000'));
    // Cleared in the settings: config.yml's http URL is in force again.
    expect(setPublicUrl('')).toBe(true);
    expect(await strictTransportOf(app)).toEqual(everywhere(undefined));
  });
});
