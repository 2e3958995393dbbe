import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLog } from '../../src/log/index.js';
import { injectSettled } from './inject-settled.js';
import { registeredRoutes } from './registered-routes.js';
import {
  addUser,
  call,
  pair,
  PASSWORD,
  startTestServer,
  textOp,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';

// Every registered route, fed garbage, mutated valid bodies and hostile strings, with and
// without a working token: no 5xx, every 4xx in the contract's JSON shape, no prototype
// pollution and no schema change.

type Method = 'GET' | 'HEAD' | 'POST' | 'DELETE';

/** Kept by hand so that a new route cannot go unfuzzed: the first test compares it with the app. */
const ROUTES: readonly (readonly [Method, string])[] = [
  ['GET', '/api/v1/health'],
  ['HEAD', '/api/v1/health'],
  ['GET', '/readyz'],
  ['HEAD', '/readyz'],
  ['GET', '/livez'],
  ['HEAD', '/livez'],
  ['POST', '/api/client/pair'],
  ['POST', '/api/auth/test'],
  ['POST', '/api/v1/device/register'],
  ['GET', '/api/client/me'],
  ['HEAD', '/api/client/me'],
  ['POST', '/api/client/revoke-device'],
  ['POST', '/api/client/revoke-current'],
  ['POST', '/api/v1/sync/push'],
  ['POST', '/api/v1/sync/pull'],
  ['GET', '/api/v1/sync/events'],
  ['POST', '/api/v1/blobs/'],
  ['GET', '/api/openapi.json'],
  ['HEAD', '/api/openapi.json'],
  ['GET', '/api/v1/blobs/:sha256'],
  ['HEAD', '/api/v1/blobs/:sha256'],
  ['POST', '/api/v1/auth/register'],
  ['POST', '/api/v1/auth/reset'],
  ['POST', '/api/v1/auth/login'],
  ['POST', '/api/v1/auth/forgot'],
  ['GET', '/api/v1/auth/confirm'],
  ['HEAD', '/api/v1/auth/confirm'],
  ['POST', '/api/v1/auth/confirm'],
  ['GET', '/api/v1/user/devices'],
  ['HEAD', '/api/v1/user/devices'],
  ['POST', '/api/v1/user/devices/:id/revoke'],
  ['GET', '/confirm/result'],
  ['HEAD', '/confirm/result'],
  ['GET', '/static/app.css'],
  ['HEAD', '/static/app.css'],
  ['GET', '/static/logo.svg'],
  ['HEAD', '/static/logo.svg'],
  ...(['/', '/login', '/register', '/register/result', '/forgot', '/forgot/sent'] as const).flatMap(
    (url) => [['GET', url] as const, ['HEAD', url] as const],
  ),
  ...(['/reset', '/reset/done', '/dashboard'] as const).flatMap((url) => [
    ['GET', url] as const,
    ['HEAD', url] as const,
  ]),
  ...(['/locale', '/login', '/register', '/forgot', '/reset', '/logout'] as const).map(
    (url) => ['POST', url] as const,
  ),
  ...(
    [
      '/admin',
      '/admin/login',
      '/admin/dashboard',
      '/admin/users',
      '/admin/devices',
      '/admin/vaults',
      '/admin/vault/',
      '/admin/user/',
      '/admin/settings',
      '/admin/audit',
    ] as const
  ).flatMap((url) => [['GET', url] as const, ['HEAD', url] as const]),
  ...(['/admin/login', '/admin/logout', '/admin/action'] as const).map(
    (url) => ['POST', url] as const,
  ),
  ...(['/admin/create-user', '/admin/password-result', '/admin/api/users'] as const).flatMap(
    (url) => [['GET', url] as const, ['HEAD', url] as const],
  ),
  ...(
    [
      '/admin/create-user',
      '/admin/password-result/secret',
      '/admin/api/users/create',
      '/admin/api/users/:id/block',
      '/admin/api/users/:id/reset-password',
      '/admin/api/users/:id/edit',
      '/admin/api/users/:id/:action',
    ] as const
  ).map((url) => ['POST', url] as const),
  ['DELETE', '/admin/api/users/:id'],
  ['POST', '/admin/api/smtp'],
  ['POST', '/admin/api/smtp/test'],
  ...(['/admin/api/devices', '/admin/api/keys'] as const).flatMap((url) => [
    ['GET', url] as const,
    ['HEAD', url] as const,
  ]),
  ['DELETE', '/admin/api/keys/:id'],
  ...(
    ['/admin/storage', '/admin/diagnostics', '/admin/diagnostics.json', '/admin/api/stats'] as const
  ).flatMap((url) => [['GET', url] as const, ['HEAD', url] as const]),
];

/** Routes that answer HTML pages (their errors are HTML too). */
const HTML_ROUTES = new Set([
  '/api/v1/auth/confirm',
  '/confirm/result',
  '/static/app.css',
  '/static/logo.svg',
  '/',
  '/login',
  '/register',
  '/register/result',
  '/forgot',
  '/forgot/sent',
  '/reset',
  '/reset/done',
  '/dashboard',
  '/locale',
  '/logout',
  '/admin',
  '/admin/login',
  '/admin/logout',
  '/admin/dashboard',
  '/admin/users',
  '/admin/devices',
  '/admin/vaults',
  '/admin/vault/',
  '/admin/user/',
  '/admin/action',
  '/admin/create-user',
  '/admin/password-result',
  '/admin/settings',
  '/admin/audit',
  '/admin/storage',
  '/admin/diagnostics',
]);

const RUNS_PER_ROUTE = 200;

const ALLOWED = new Map<string, string[]>();
for (const [method, url] of ROUTES) ALLOWED.set(url, [...(ALLOWED.get(url) ?? []), method]);
// GET /api/v1/blobs/ is the download route with an empty hash (400 invalid_blob_hash).
ALLOWED.get('/api/v1/blobs/')!.push('GET', 'HEAD');
// DELETE /admin/api/users/create names a user whose id is 'create'.
ALLOWED.get('/admin/api/users/create')!.push('DELETE');

/** The 4xx codes of CONTRACT.md §2.1 and §0 that these routes may give. */
const CODES = new Set([
  'invalid_request',
  'invalid_json',
  'trailing_json',
  'request_too_large',
  'too_many_operations',
  'payload_too_large',
  'field_too_long',
  'invalid_operation',
  'invalid_payload',
  'inline_binary_forbidden',
  'invalid_blob_reference',
  'blob_not_owned',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'rate_limited',
  'cursor_ahead',
  'idempotency_key_reused',
  'invalid_multipart',
  'blob_too_large',
  'quota_exceeded',
  'invalid_blob_hash',
  'blob_not_found',
  'request_timeout',
  'csrf_invalid',
  'already_exists',
]);

const OP_FIELDS = [
  'op_id',
  'entity_type',
  'entity_id',
  'op_type',
  'payload_json',
  'created_at',
  'client_sequence',
  'last_seen_server_seq',
];

const HOSTILE = [
  "' OR '1'='1",
  "'); DROP TABLE events; --",
  '"; DELETE FROM vault_ops; --',
  "x' UNION SELECT sql FROM sqlite_master --",
  '<script>alert(1)</script>',
  '</textarea><img src=x onerror=alert(1)>',
  '&lt;&#x27;&quot;',
  '\u0000',
  '%00',
  '../../etc/passwd',
  '${7*7}{{7*7}}<%= 7*7 %>',
  '\r\nSet-Cookie: x=1',
  'legacy:x',
  '   ',
  '',
  'Bearer ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '\ud800',
  '\udfff\ud800',
  '😀',
  'Заметка',
  'a'.repeat(5000),
];

let server: TestServer;
let main: Device;
let sacrificial: Device;
let victim: Device;
let revoked: Device;
let blocked: Device;
let schemaBefore: unknown;
let prototypeBefore: PropertyDescriptorMap;

const schema = () =>
  server.runtime.db
    .prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name')
    .all();

beforeAll(async () => {
  server = await startTestServer({ databaseFile: ':memory:' });
  await addUser(server, 'fuzz');
  const blockedUser = await addUser(server, 'fuzz-blocked');
  main = await pair(server, 'fuzz', 'fuzz-vault', 'main');
  sacrificial = await pair(server, 'fuzz', 'fuzz-vault', 'revokes itself');
  victim = await pair(server, 'fuzz', 'fuzz-vault', 'victim');
  revoked = await pair(server, 'fuzz', 'fuzz-vault', 'revoked');
  blocked = await pair(server, 'fuzz-blocked', 'fuzz-vault');
  await call(server, revoked, { method: 'POST', url: '/api/client/revoke-current' });
  server.runtime.users.setBlocked(blockedUser, true, { actor: 'test' });
  schemaBefore = schema();
  prototypeBefore = Object.getOwnPropertyDescriptors(Object.prototype);
});
afterAll(async () => server?.close());

const TEMPLATES: Record<string, Record<string, unknown>> = {
  '/api/client/pair': {
    login: 'fuzz',
    password: PASSWORD,
    device_name: 'fuzzer',
    client_version: 'verstak-desktop/v2',
    vault_id: 'fuzz-vault',
  },
  '/api/auth/test': { username: 'fuzz', password: PASSWORD },
  '/api/v1/device/register': {
    name: 'fuzzer',
    username: 'fuzz',
    password: PASSWORD,
    vault_id: 'fuzz-vault',
  },
  '/api/client/revoke-device': { device_id: '<victim>', password: PASSWORD },
  '/api/v1/sync/push': { device_id: 'dev_x', idempotency_key: '', ops: [] },
  '/api/v1/sync/pull': { since_sequence: 0, page_limit: 10 },
};

const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.anything(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(-1, 0, 1.5, 2 ** 53, -(2 ** 63), 1e308, true, null, [], {}),
);

/** The given arbitrary one time in three, else the plain value: most runs stay near valid. */
const rarely = <T, U>(arb: fc.Arbitrary<T>, otherwise: U): fc.Arbitrary<T | U> =>
  fc.oneof({ weight: 2, arbitrary: fc.constant(otherwise) }, { weight: 1, arbitrary: arb });

/** A valid body with fields dropped or replaced, extra keys, and prototype-poisoning keys. */
function mutated(template: Record<string, unknown>): fc.Arbitrary<string> {
  const keys = Object.keys(template);
  const op = fc
    .record({
      drop: rarely(
        fc.subarray(['op_id', 'entity_type', 'entity_id', 'op_type', 'payload_json'], {
          maxLength: 2,
        }),
        [],
      ),
      replace: rarely(
        fc.dictionary(fc.constantFrom(...OP_FIELDS), nasty, { minKeys: 1, maxKeys: 2 }),
        {},
      ),
      payload: fc.constantFrom(
        '{"path":"a","dataBase64":"AA=="}',
        `{"blob":{"sha256":"${'ab'.repeat(32)}","size":1}}`,
        '{"blob":{"sha256":"XYZ","size":-1}}',
        '{"__proto__":{"x":1}}',
        '',
      ),
      fileOp: fc.boolean(),
      id: fc.nat(),
    })
    .map(({ drop, replace, payload, fileOp, id }) => {
      const o: Record<string, unknown> = {
        ...textOp(`fz-${id}`, 'f.md', 'x'),
        payload_json: payload,
      };
      if (!fileOp) o.entity_type = 'note';
      Object.assign(o, replace);
      for (const k of drop) delete o[k];
      return o;
    });
  return fc
    .record({
      drop: rarely(fc.subarray(keys, { maxLength: Math.min(2, keys.length) }), []),
      replace:
        keys.length > 0
          ? rarely(fc.dictionary(fc.constantFrom(...keys), nasty, { minKeys: 1, maxKeys: 2 }), {})
          : fc.constant({}),
      extra: rarely(
        fc.dictionary(fc.oneof(fc.string(), fc.constantFrom(...HOSTILE)), nasty, {
          minKeys: 1,
          maxKeys: 2,
        }),
        {},
      ),
      ops: fc.array(op, { maxLength: 3 }),
      poison: rarely(fc.constantFrom('__proto__', 'constructor'), undefined),
    })
    .map(({ drop, replace, extra, ops, poison }) => {
      const body: Record<string, unknown> = { ...template };
      if ('ops' in template) body.ops = ops;
      if (body.device_id === '<victim>') body.device_id = victim.deviceId;
      Object.assign(body, replace, extra);
      for (const k of drop) delete body[k];
      const text = JSON.stringify(body);
      const inner = text.slice(1, -1);
      const glue = inner ? `,${inner}` : '';
      if (poison === '__proto__') return `{"__proto__":{"polluted":"yes"}${glue}}`;
      if (poison === 'constructor')
        return `{"constructor":{"prototype":{"polluted":"yes"}}${glue}}`;
      return text;
    });
}

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 60,
});

// Every byte escaped, so that hostile values (lone surrogates too) reach the server as sent.
const percentEncoded = (v: string) =>
  [...Buffer.from(v)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

function request(method: Method, url: string) {
  const template = TEMPLATES[url] ?? {};
  const body = fc.oneof(
    fc.constant(undefined),
    fc.json(),
    fc.anything().map((v) => JSON.stringify(v) ?? 'undefined'),
    { weight: 8, arbitrary: mutated(template) },
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.constantFrom(...HOSTILE),
    fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes)),
  );
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(undefined, 'application/json') },
    fc.constantFrom(
      undefined,
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=utf-16le',
      'text/plain',
      'text/html',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=----fuzz',
      'application/octet-stream',
      'application/json;;;',
      '*/*',
    ),
    printable,
  );
  const auth = fc.oneof(
    { weight: 8, arbitrary: fc.constant('valid') },
    fc.constantFrom('none', 'raw', 'lower', 'empty', 'garbage', 'revoked', 'blocked', 'query'),
  );
  const query = fc.oneof(
    { weight: 6, arbitrary: fc.constant('') },
    fc
      .dictionary(
        fc.constantFrom('api_key', 'since_sequence', 'page_limit', '__proto__', 'constructor', 'x'),
        fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(...HOSTILE)),
        { maxKeys: 3 },
      )
      .map((q) =>
        Object.entries(q)
          .map(([k, v]) => `${k}=${percentEncoded(v)}`)
          .join('&'),
      ),
    fc.constantFrom(
      '%',
      '%zz',
      '&&==&',
      'api_key',
      'api_key=&api_key=x',
      '__proto__[x]=1',
      'a[b][c]=d',
    ),
  );
  const methods = fc.oneof(
    { weight: 9, arbitrary: fc.constant(method) },
    fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  );
  const ip = fc.constantFrom('127.0.0.1', '10.1.0.1', '10.1.0.2', '::1');
  return fc.record({ method: methods, body, contentType, auth, query, ip });
}

function headersFor(auth: string, url: string, contentType: string | undefined) {
  const token = url === '/api/client/revoke-current' ? sacrificial.token : main.token;
  const authorization: Record<string, string | undefined> = {
    none: undefined,
    valid: `Bearer ${token}`,
    raw: token,
    lower: `bearer ${token}`,
    empty: 'Bearer ',
    garbage: 'Bearer <script>',
    revoked: `Bearer ${revoked.token}`,
    blocked: `Bearer ${blocked.token}`,
    query: undefined,
  };
  const headers: Record<string, string> = {};
  if (authorization[auth] !== undefined) headers.authorization = authorization[auth];
  if (contentType !== undefined) headers['content-type'] = contentType;
  return { headers, apiKey: auth === 'query' ? token : undefined };
}

describe('the route list', () => {
  it('is exactly what the app registers', async () => {
    await server.app.ready();
    const registered = registeredRoutes(server.app);
    expect(registered.sort()).toEqual(ROUTES.map(([m, u]) => `${m} ${u}`).sort());
    for (const [method, url] of ROUTES) expect(server.app.hasRoute({ method, url })).toBe(true);
  });
});

describe.each(ROUTES)('%s %s under fuzzing', (method, url) => {
  it(`never fails with 5xx and answers 4xx as {error, code} (${RUNS_PER_ROUTE} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(request(method, url), async (r) => {
        const { headers, apiKey } = headersFor(r.auth, url, r.contentType);
        const query = [r.query, apiKey ? `api_key=${apiKey}` : ''].filter(Boolean).join('&');
        const res = await injectSettled(server.app, {
          method: r.method,
          url: query ? `${url}?${query}` : url,
          headers,
          remoteAddress: r.ip,
          ...(r.body === undefined ? {} : { payload: r.body }),
        });
        expect(res.statusCode, res.body).toBeLessThan(500);
        if (!ALLOWED.get(url)!.includes(r.method)) expect(res.statusCode).toBe(405);
        if (res.statusCode >= 400 && r.method !== 'HEAD' && !HTML_ROUTES.has(url)) {
          expect(res.headers['content-type'], res.body).toMatch(/^application\/json/);
          const body = JSON.parse(res.body) as { code: string };
          expect(body).toEqual({ error: expect.any(String), code: expect.any(String) });
          expect(CODES, body.code).toContain(body.code);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: RUNS_PER_ROUTE },
    );
  });
});

describe('after the fuzzing', () => {
  it('left Object.prototype, the schema and the log intact', () => {
    expect(Object.getOwnPropertyDescriptors(Object.prototype)).toEqual(prototypeBefore);
    expect(schema()).toEqual(schemaBefore);
    expect(verifyLog(server.runtime.db).problems).toEqual([]);
    // The fuzzer did get through to the log: pairings, pushes and revocations.
    expect(server.runtime.store.head()).toBeGreaterThan(10);
  });
});
