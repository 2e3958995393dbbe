import type fastify from 'fastify';
import type { LightMyRequestResponse } from 'fastify';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { credentialsBodyLimit, IGNORED_BODY_LIMIT } from '../../src/http/body-limits.js';
import { testHasher } from '../helpers/runtime.js';
import {
  addUser,
  nextPeer,
  pair,
  PASSWORD,
  startTestServer,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';
import { hiddenFields } from '../web/browser-client.js';
import { openConnection, type RawConnection } from './raw-connection.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// buildApp creates its fastify instance itself; wrapping the factory lets an onRoute hook
// see every route, with its own body limit, as it registers (as authz-matrix does).
const routes = vi.hoisted(
  () => [] as { method: string; url: string; bodyLimit: number | undefined }[],
);
vi.mock('fastify', async (importOriginal) => {
  const actual = await importOriginal<{ default: typeof fastify }>();
  const factory = ((options?: object) => {
    const app = actual.default(options);
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        routes.push({ method, url: route.url, bodyLimit: route.bodyLimit });
      }
    });
    return app;
  }) as typeof actual.default;
  return { ...actual, default: factory, fastify: factory };
});

// Lowered so that a body one byte over any route's limit stays small.
const LIMITS = {
  max_json_body: 64 * KiB,
  max_push_body: 256 * KiB,
  max_blob_bytes: 64 * KiB,
};
const ADMIN = 'root';
const ADMIN_PASSWORD = 'admin horse battery staple';

let server: TestServer;
let device: Device;
let port: number;
/** Every credential at once: each route takes the one it knows. */
let credentials: Record<string, string>;

/** A sign-in through the page's form; the cookies it set, as one Cookie header. */
async function signIn(page: string, username: string, password: string) {
  const remoteAddress = nextPeer();
  const form = await server.app.inject({ method: 'GET', url: page, remoteAddress });
  const jar = new Map(form.cookies.map((c) => [c.name, c.value]));
  const cookie = () => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  const res = await server.app.inject({
    method: 'POST',
    url: page,
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookie() },
    payload: new URLSearchParams({ ...hiddenFields(form.body), username, password }).toString(),
  });
  if (res.statusCode !== 303) throw new Error(`sign-in failed: ${res.statusCode} ${res.body}`);
  for (const c of res.cookies) jar.set(c.name, c.value);
  return jar;
}

beforeAll(async () => {
  server = await startTestServer({
    limits: LIMITS,
    hasher: testHasher,
    settings: {
      admin: [{ username: ADMIN, password_hash: await testHasher.hash(ADMIN_PASSWORD) }],
    },
  });
  await addUser(server, 'olga');
  device = await pair(server, 'olga', 'vault-1');
  const user = await signIn('/login', 'olga', PASSWORD);
  const admin = await signIn('/admin/login', ADMIN, ADMIN_PASSWORD);
  const cookies = new Map([...user, ...admin]);
  credentials = {
    authorization: `Bearer ${device.token}`,
    cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
    'x-csrf-token': cookies.get('csrf_token') ?? '',
  };
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  port = (server.app.server.address() as AddressInfo).port;
});

afterAll(async () => server?.close());

const meStatus = async () =>
  (
    await server.app.inject({
      method: 'GET',
      url: '/api/client/me',
      headers: { authorization: `Bearer ${device.token}` },
    })
  ).statusCode;

/** A revoke-current request head, with the device's token; `length` or chunked. */
const revokeHead = (length?: number) =>
  [
    'POST /api/client/revoke-current HTTP/1.1',
    'Host: 127.0.0.1',
    `Authorization: Bearer ${device.token}`,
    'Content-Type: application/json',
    length === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`,
    '',
    '',
  ].join('\r\n');

async function answered(connection: RawConnection) {
  const giveUp = setTimeout(() => connection.socket.destroy(), 10_000);
  const answer = await connection.answer();
  clearTimeout(giveUp);
  connection.socket.destroy();
  return answer && { status: answer.status, body: JSON.parse(answer.body) as unknown };
}

const TOO_LARGE = { status: 413, body: { error: expect.any(String), code: 'request_too_large' } };

describe('revoke-current, which ignores its body, over a real connection', () => {
  it('answers 413 to a declared 100 MiB body before it is sent, and revokes nothing', async () => {
    const connection = await openConnection(port);
    connection.socket.write(revokeHead(100 * MiB));
    connection.socket.write(Buffer.alloc(64 * KiB, 0x20));
    // Nothing more is sent: an answer can only come from the declared length.
    expect(await answered(connection)).toEqual(TOO_LARGE);
    expect(await meStatus()).toBe(200);
  });

  it('answers 413 to a chunked body once it passes the limit, and revokes nothing', async () => {
    const connection = await openConnection(port);
    connection.socket.write(revokeHead());
    const chunk = Buffer.alloc(8 * KiB, 0x20);
    connection.socket.write(`${chunk.length.toString(16)}\r\n`);
    connection.socket.write(chunk);
    connection.socket.write('\r\n');
    // The chunked body is never finished: only counting can answer it.
    expect(await answered(connection)).toEqual(TOO_LARGE);
    expect(await meStatus()).toBe(200);
  });

  it('still revokes with the empty body the desktop sends', async () => {
    const other = await pair(server, 'olga', 'vault-1', 'spare');
    const res = await server.app.inject({
      method: 'POST',
      url: '/api/client/revoke-current',
      headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/json' },
    });
    expect([res.statusCode, res.json()]).toEqual([200, { status: 'revoked' }]);
  });
});

/** A user route reads a Bearer header as a session token: the cookie must speak there. */
const credentialsFor = (url: string) => {
  if (!url.startsWith('/api/v1/user/')) return credentials;
  const { authorization: _device, ...rest } = credentials;
  return rest;
};

const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const SAMPLE_PARAMS: Record<string, string> = {
  id: 'nope',
  action: 'block',
  sha256: 'a'.repeat(64),
};

/** The most each route may read: what it needs, never the largest limit by default. */
function expectedLimit(method: string, url: string): number {
  const route = `${method} ${url}`;
  if (route === 'POST /api/client/revoke-current') return IGNORED_BODY_LIMIT;
  if (route === 'POST /api/v1/sync/push') return LIMITS.max_push_body;
  if (route === 'POST /api/v1/blobs/') return LIMITS.max_blob_bytes + MiB;
  const credentialRoutes = [
    'POST /api/client/pair',
    'POST /api/v1/device/register',
    'POST /api/auth/test',
    'POST /api/client/revoke-device',
    'POST /api/v1/auth/register',
    'POST /api/v1/auth/login',
    'POST /api/v1/auth/forgot',
    'POST /api/v1/auth/reset',
    'POST /api/v1/auth/confirm',
    'POST /api/v1/user/devices/:id/revoke',
  ];
  if (credentialRoutes.includes(route)) return credentialsBodyLimit(LIMITS);
  return LIMITS.max_json_body;
}

describe('every registered route', () => {
  const bodyRoutes = () => routes.filter((r) => !BODYLESS.has(r.method));

  it('declares a body limit that fits what it reads', () => {
    expect(bodyRoutes().length).toBeGreaterThan(20);
    const tooLarge = bodyRoutes()
      .map((r) => ({
        route: `${r.method} ${r.url}`,
        limit: r.bodyLimit ?? LIMITS.max_json_body,
        fits: expectedLimit(r.method, r.url),
      }))
      .filter((r) => r.limit > r.fits);
    expect(tooLarge).toEqual([]);
  });

  it('answers a body one byte over its limit with 413, whatever the body type', async () => {
    const types = [
      'application/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
    ];
    const outcomes: string[] = [];
    for (const route of bodyRoutes()) {
      const url = route.url.replace(/:(\w+)/g, (_m, name: string) => SAMPLE_PARAMS[name] ?? 'x');
      const limit = route.bodyLimit ?? LIMITS.max_json_body;
      for (const type of types) {
        const res: LightMyRequestResponse = await server.app.inject({
          method: route.method as 'POST',
          url,
          remoteAddress: nextPeer(),
          headers: { ...credentialsFor(route.url), 'content-type': type },
          payload: Buffer.alloc(limit + 1, 0x20),
        });
        outcomes.push(`${route.method} ${route.url} [${type}] → ${res.statusCode}`);
      }
    }
    // The blob route refuses anything but multipart from the header alone, unread.
    const notRefused = outcomes.filter(
      (o) => !o.endsWith('→ 413') && !/^POST \/api\/v1\/blobs\/ \[(?!multipart).*→ 400$/.test(o),
    );
    expect(notRefused).toEqual([]);
  });
});
