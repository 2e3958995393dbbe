import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogger } from '../helpers/app.js';
import {
  addUser,
  pair,
  startTestServer,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';

// issue 12: a token sent as `?api%5Fkey=` authenticated (the query parser decodes the
// name to api_key, which CONTRACT.md §3.1 keeps as the legacy way to send a device token)
// but the request log redacted only the raw spelling `api_key`, so it was logged in clear.

let server: TestServer;
let device: Device;
let lines: Record<string, unknown>[];
beforeAll(async () => {
  const memory = memoryLogger();
  lines = memory.lines;
  server = await startTestServer({ databaseFile: ':memory:', logger: memory.logger });
  await addUser(server, 'alice');
  device = await pair(server, 'alice', 'vault-query-token');
});
afterAll(async () => server.close());

const requestLine = (reqId: unknown) =>
  lines.find((l) => l.msg === 'request' && l.reqId === reqId) as { url: string } | undefined;

describe('a device token in the query', () => {
  it.each(['api_key', 'api%5Fkey', 'api%5fkey', '%61pi_key', '%61%70%69%5F%6B%65%79'])(
    'authenticates as ?%s= and is redacted in the request log',
    async (name) => {
      const res = await server.app.inject({
        method: 'GET',
        url: `/api/client/me?${name}=${device.token}&x=1`,
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ device_id: device.deviceId });
      expect(requestLine(res.headers['x-request-id'])?.url).toBe(
        `/api/client/me?${name}=<redacted>&x=1`,
      );
      expect(JSON.stringify(lines)).not.toContain(device.token);
    },
  );

  it('is redacted also when it is refused, whatever the spelling', async () => {
    const refused = await server.app.inject({
      method: 'POST',
      url: `/api/v1/sync/pull?API%5FKEY=nope-not-a-token&api%5Fkey=${device.token.slice(0, 40)}x`,
      payload: {},
    });
    expect(refused.statusCode).toBe(401);
    expect(requestLine(refused.headers['x-request-id'])?.url).toBe(
      '/api/v1/sync/pull?API%5FKEY=<redacted>&api%5Fkey=<redacted>',
    );
    expect(JSON.stringify(lines)).not.toContain('nope-not-a-token');
    expect(JSON.stringify(lines)).not.toContain(device.token.slice(0, 40));
  });
});

describe('other secret-bearing parameters in the query', () => {
  it.each([
    ['/reset', 'tok%65n'],
    ['/api/v1/auth/confirm', 'token'],
    ['/api/v1/auth/login', 'pass%77ord'],
    ['/api/v1/auth/reset', 'new%5Fpassword'],
    ['/api/client/pair', 'device%5Ftoken'],
  ])('%s?%s= is redacted in the request log', async (path, name) => {
    const secret = `s3cret-${name.length}-${path.length}`;
    const res = await server.app.inject({ method: 'GET', url: `${path}?${name}=${secret}` });
    expect(requestLine(res.headers['x-request-id'])?.url).toBe(`${path}?${name}=<redacted>`);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });
});
