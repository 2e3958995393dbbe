import { randomBytes } from 'node:crypto';
import type fastify from 'fastify';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { randomIds, type Ids } from '../../src/ids.js';
import { testHasher } from '../helpers/runtime.js';
import {
  addUser,
  nextPeer,
  pair,
  PASSWORD,
  startTestServer,
  textOp,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';
import { hiddenFields } from '../web/browser-client.js';
import { AUTHZ_MATRIX, ROLES, type Cell, type Role } from './authz-matrix.js';
import { fileBody } from './blob-fixtures.js';
import { injectSettled } from './inject-settled.js';

// RELIABILITY.md S2. Every cell runs in a world of its own (fresh users A and B, their
// devices and sessions), so a cell that revokes or signs out cannot change the next one.
// The fast hasher keeps a world at a few milliseconds: argon2 is not what is tested here.

// buildApp creates its fastify instance itself; wrapping the factory lets an onRoute hook
// see every route as it registers, before any plugin adds one.
const registered = vi.hoisted(() => new Set<string>());
vi.mock('fastify', async (importOriginal) => {
  const actual = await importOriginal<{ default: typeof fastify }>();
  const factory = ((options?: object) => {
    const app = actual.default(options);
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) registered.add(`${method} ${route.url}`);
    });
    return app;
  }) as typeof actual.default;
  return { ...actual, default: factory, fastify: factory };
});

const HOUR = 3_600_000;
const ADMIN = 'root';
const ADMIN_PASSWORD = 'admin horse battery staple';
const clock = createManualClock('2026-12-04T10:00:00.000Z');
/** Every secret the server draws, so a test can read a mailed token without the mail. */
const issued: string[] = [];
const ids: Ids = {
  ...randomIds,
  secret: () => {
    const secret = randomIds.secret();
    issued.push(secret);
    return secret;
  },
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    databaseFile: ':memory:',
    clock,
    ids,
    hasher: testHasher,
    settings: {
      admin: [{ username: ADMIN, password_hash: await testHasher.hash(ADMIN_PASSWORD) }],
    },
  });
  // Mail set up (no sender runs): the admin's test mail is queued, whatever ran before it.
  server.runtime.settings.changeSmtp(
    { host: '127.0.0.1', port: 1, security: 'none', from: 'sync@example.test', publicUrl: '' },
    { actor: 'test' },
  );
});
afterAll(async () => server?.close());

/** Cookies by path and name, sent where a browser would send them (Path=/admin apart). */
type Jar = Map<string, { readonly name: string; readonly path: string; readonly value: string }>;

interface World {
  readonly n: number;
  readonly a: { readonly email: string; readonly device: Device; readonly victim: Device };
  readonly revoked: Device;
  readonly b: { readonly device: Device };
  readonly jars: Readonly<Record<'anonymous' | 'user' | 'expired' | 'other' | 'admin', Jar>>;
  readonly blobSha: string;
  readonly resetToken: string;
  readonly confirmToken: string;
  /** Strings only A may see: a response to anyone else must not contain them. */
  readonly secretsOfA: readonly string[];
}

const inject = (opts: InjectOptions) =>
  injectSettled(server.app, { remoteAddress: nextPeer(), ...opts });

/** The cookies a browser sends to `url`, longest path first. */
function cookiesFor(jar: Jar, url: string) {
  const path = url.split('?')[0]!;
  return [...jar.values()]
    .filter((c) => c.path === '/' || path === c.path || path.startsWith(`${c.path}/`))
    .sort((a, b) => b.path.length - a.path.length);
}

const cookieHeader = (jar: Jar, url: string) =>
  cookiesFor(jar, url)
    .map((c) => `${c.name}=${c.value}`)
    .join('; ');

const cookieValue = (jar: Jar, url: string, name: string) =>
  cookiesFor(jar, url).find((c) => c.name === name)?.value;

function keep(jar: Jar, res: LightMyRequestResponse) {
  for (const c of res.cookies) {
    const path = c.path ?? '/';
    if (c.maxAge === 0) jar.delete(`${path}|${c.name}`);
    else jar.set(`${path}|${c.name}`, { name: c.name, path, value: c.value });
  }
}

/** A browser that loaded a sign-in page and, given a username, signed in through it. */
async function browser(username?: string, page = '/login', password = PASSWORD): Promise<Jar> {
  const jar: Jar = new Map();
  const form = await inject({ method: 'GET', url: page });
  keep(jar, form);
  if (!username) return jar;
  const res = await inject({
    method: 'POST',
    url: page,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      cookie: cookieHeader(jar, page),
    },
    payload: new URLSearchParams({ ...hiddenFields(form.body), username, password }).toString(),
  });
  if (res.statusCode !== 303) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  keep(jar, res);
  return jar;
}

/** The one secret the server drew while `action` ran (a mailed token). */
async function drawnDuring(action: () => unknown): Promise<string> {
  const before = issued.length;
  await action();
  if (issued.length !== before + 1) throw new Error('expected exactly one new secret');
  return issued[before]!;
}

let worlds = 0;
async function buildWorld(): Promise<World> {
  const n = ++worlds;
  const [a, b] = [`ann${n}`, `bob${n}`];
  const vault = `vault-${n}`;
  await addUser(server, a);
  await addUser(server, b);
  const expired = await browser(a);
  clock.advance(25 * HOUR);
  const device = await pair(server, a, vault);
  const victim = await pair(server, a, vault, 'phone');
  const revoked = await pair(server, a, vault, 'old laptop');
  const revoke = await inject({
    method: 'POST',
    url: '/api/client/revoke-current',
    headers: { authorization: `Bearer ${revoked.token}` },
  });
  if (revoke.statusCode !== 200) throw new Error(`revoke failed: ${revoke.body}`);
  // B's device shares A's vault id: only the user may tell the two apart.
  const other = await pair(server, b, vault);
  const opMarker = `op-of-a-${randomBytes(8).toString('hex')}`;
  const pushed = await inject({
    method: 'POST',
    url: '/api/v1/sync/push',
    headers: { authorization: `Bearer ${device.token}` },
    payload: { device_id: device.deviceId, ops: [textOp(`${opMarker}-id`, 'a.md', opMarker)] },
  });
  if (pushed.statusCode !== 200) throw new Error(`push failed: ${pushed.body}`);
  const blob = fileBody(Buffer.from(`blob of ${a} ${randomBytes(8).toString('hex')}`));
  const uploaded = await inject({
    method: 'POST',
    url: '/api/v1/blobs/',
    headers: { ...blob.headers, authorization: `Bearer ${device.token}` },
    payload: blob.payload,
  });
  if (uploaded.statusCode !== 200) throw new Error(`upload failed: ${uploaded.body}`);
  const blobSha = uploaded.json<{ sha256: string }>().sha256;
  const email = `${a}@example.test`;
  const meta = { actor: 'test' };
  const resetToken = await drawnDuring(() =>
    server.runtime.passwordResets.requestPasswordReset(email, meta),
  );
  const confirmToken = await drawnDuring(() =>
    server.runtime.accounts.register(
      { username: `cy${n}`, email: `cy${n}@example.test`, password: PASSWORD, locale: 'en' },
      meta,
    ),
  );
  return {
    n,
    a: { email, device, victim },
    revoked,
    b: { device: other },
    jars: {
      anonymous: await browser(),
      user: await browser(a),
      expired,
      other: await browser(b),
      admin: await browser(ADMIN, '/admin/login', ADMIN_PASSWORD),
    },
    blobSha,
    resetToken,
    confirmToken,
    secretsOfA: [device.deviceId, victim.deviceId, opMarker],
  };
}

interface Credentials {
  readonly jar?: Jar;
  readonly bearer?: string;
}

/** The jar with one cookie kept: a session without its CSRF or public-form token. */
const only = (jar: Jar, name: string): Jar =>
  new Map([...jar].filter(([, cookie]) => cookie.name === name));

function credentialsOf(world: World, role: Role): Credentials {
  switch (role) {
    case 'anonymous':
      return { jar: world.jars.anonymous };
    case 'user':
      return { jar: world.jars.user };
    case 'userNoCsrf':
      return { jar: only(world.jars.user, 'user_session') };
    case 'expiredSession':
      return { jar: world.jars.expired };
    case 'otherUser':
      return { jar: world.jars.other };
    case 'device':
      return { bearer: world.a.device.token };
    case 'revokedDevice':
      return { bearer: world.revoked.token };
    case 'otherDevice':
      return { bearer: world.b.device.token };
    case 'admin':
      return { jar: world.jars.admin };
    case 'adminNoCsrf':
      return { jar: only(world.jars.admin, 'admin_session') };
    default: {
      const unreachable: never = role;
      return unreachable;
    }
  }
}

/** What a cell sends: a body valid for the route, so that only authorization can refuse. */
interface Shape {
  readonly url: string;
  readonly json?: object;
  readonly form?: Record<string, string>;
  readonly multipart?: { readonly payload: Buffer; readonly headers: Record<string, string> };
}

const login = (w: World) => ({ username: `ann${w.n}`, password: PASSWORD });
const fresh = (w: World) => ({
  username: `new${w.n}`,
  email: `new${w.n}@example.test`,
  password: PASSWORD,
});

const smtpFields = (w: World) => ({
  smtp_host: `smtp${w.n}.example.test`,
  smtp_port: '587',
  smtp_security: 'starttls',
  smtp_from: 'sync@example.test',
});

const SHAPES: Readonly<Record<string, (w: World) => Shape>> = {
  'GET /': () => ({ url: '/' }),
  'GET /static/app.css': () => ({ url: '/static/app.css' }),
  'GET /static/logo.svg': () => ({ url: '/static/logo.svg' }),
  'GET /api/v1/health': () => ({ url: '/api/v1/health' }),
  'GET /readyz': () => ({ url: '/readyz' }),
  'GET /livez': () => ({ url: '/livez' }),
  'GET /api/openapi.json': () => ({ url: '/api/openapi.json' }),
  'GET /register': () => ({ url: '/register' }),
  'GET /register/result': () => ({ url: '/register/result' }),
  'GET /forgot': () => ({ url: '/forgot' }),
  'GET /forgot/sent': () => ({ url: '/forgot/sent' }),
  'GET /reset/done': () => ({ url: '/reset/done' }),
  'GET /confirm/result': () => ({ url: '/confirm/result' }),
  'GET /reset': (w) => ({ url: `/reset?token=${w.resetToken}` }),
  'GET /api/v1/auth/confirm': (w) => ({ url: `/api/v1/auth/confirm?token=${w.confirmToken}` }),
  'GET /login': () => ({ url: '/login' }),
  'POST /api/client/pair': (w) => ({
    url: '/api/client/pair',
    json: {
      login: `ann${w.n}`,
      password: PASSWORD,
      device_name: 'tablet',
      client_version: 'verstak-desktop/v2',
      vault_id: `vault-${w.n}`,
    },
  }),
  'POST /api/v1/device/register': (w) => ({
    url: '/api/v1/device/register',
    json: { ...login(w), name: 'tablet', vault_id: `vault-${w.n}` },
  }),
  'POST /api/auth/test': (w) => ({ url: '/api/auth/test', json: login(w) }),
  'POST /api/v1/auth/register': (w) => ({ url: '/api/v1/auth/register', json: fresh(w) }),
  'POST /api/v1/auth/login': (w) => ({ url: '/api/v1/auth/login', json: login(w) }),
  'POST /api/v1/auth/forgot': (w) => ({ url: '/api/v1/auth/forgot', json: { email: w.a.email } }),
  'POST /api/v1/auth/reset': (w) => ({
    url: '/api/v1/auth/reset',
    json: { token: w.resetToken, new_password: `${PASSWORD} again` },
  }),
  'POST /api/v1/auth/confirm': (w) => ({
    url: '/api/v1/auth/confirm',
    json: { token: w.confirmToken },
  }),
  'POST /api/v1/auth/confirm#form': (w) => ({
    url: '/api/v1/auth/confirm',
    form: { token: w.confirmToken },
  }),
  'POST /login': (w) => ({ url: '/login', form: login(w) }),
  'POST /register': (w) => ({ url: '/register', form: fresh(w) }),
  'POST /forgot': (w) => ({ url: '/forgot', form: { email: w.a.email } }),
  'POST /reset': (w) => ({
    url: '/reset',
    form: { token: w.resetToken, password: `${PASSWORD} again`, confirm: `${PASSWORD} again` },
  }),
  'POST /locale': () => ({ url: '/locale', form: { locale: 'ru', from: '/dashboard' } }),
  'GET /api/client/me': () => ({ url: '/api/client/me' }),
  'POST /api/client/revoke-device': (w) => ({
    url: '/api/client/revoke-device',
    json: { device_id: w.a.victim.deviceId, password: PASSWORD },
  }),
  'POST /api/client/revoke-current': () => ({ url: '/api/client/revoke-current', json: {} }),
  'POST /api/v1/sync/push': (w) => ({
    url: '/api/v1/sync/push',
    json: { device_id: w.a.device.deviceId, ops: [textOp(`op-${w.n}`, 'b.md', 'text')] },
  }),
  'POST /api/v1/sync/pull': () => ({ url: '/api/v1/sync/pull', json: { since_sequence: 0 } }),
  'GET /api/v1/sync/events': () => ({ url: '/api/v1/sync/events' }),
  'POST /api/v1/blobs/': (w) => ({
    url: '/api/v1/blobs/',
    multipart: fileBody(Buffer.from(`another blob ${w.n}`)),
  }),
  'GET /api/v1/blobs/:sha256': (w) => ({ url: `/api/v1/blobs/${w.blobSha}` }),
  'GET /api/v1/user/devices': () => ({ url: '/api/v1/user/devices' }),
  'POST /api/v1/user/devices/:id/revoke': (w) => ({
    url: `/api/v1/user/devices/${w.a.victim.deviceId}/revoke`,
    json: { password: PASSWORD },
  }),
  'POST /api/v1/user/devices/:id/revoke#form': (w) => ({
    url: `/api/v1/user/devices/${w.a.victim.deviceId}/revoke`,
    form: { password: PASSWORD },
  }),
  'GET /dashboard': () => ({ url: '/dashboard' }),
  'POST /logout': () => ({ url: '/logout', form: {} }),
  'GET /admin': () => ({ url: '/admin' }),
  'GET /admin/login': () => ({ url: '/admin/login' }),
  'POST /admin/login': () => ({
    url: '/admin/login',
    form: { username: ADMIN, password: ADMIN_PASSWORD },
  }),
  'POST /admin/logout': () => ({ url: '/admin/logout', form: {} }),
  'GET /admin/dashboard': () => ({ url: '/admin/dashboard' }),
  'GET /admin/users': () => ({ url: '/admin/users' }),
  'GET /admin/devices': () => ({ url: '/admin/devices' }),
  'GET /admin/vaults': () => ({ url: '/admin/vaults' }),
  'GET /admin/vault/': (w) => ({
    url: `/admin/vault/?user=${w.a.device.userId}&vault=vault-${w.n}`,
  }),
  'GET /admin/user/': (w) => ({ url: `/admin/user/?id=${w.a.device.userId}` }),
  'POST /admin/action': (w) => ({
    url: '/admin/action',
    form: {
      action: 'toggle-user',
      id: w.a.device.userId,
      password: ADMIN_PASSWORD,
      back: '/admin/users',
    },
  }),
  'GET /admin/create-user': () => ({ url: '/admin/create-user' }),
  'POST /admin/create-user': (w) => ({
    url: '/admin/create-user',
    form: {
      username: `made${w.n}`,
      email: `made${w.n}@example.test`,
      password_mode: 'typed',
      password: PASSWORD,
    },
  }),
  'GET /admin/password-result': () => ({ url: '/admin/password-result' }),
  'POST /admin/password-result/secret': () => ({
    url: '/admin/password-result/secret',
    json: {},
  }),
  'POST /admin/action#edit-user': (w) => ({
    url: '/admin/action',
    form: {
      action: 'edit-user',
      id: w.a.device.userId,
      username: `ann${w.n}b`,
      email: `ann${w.n}b@example.test`,
    },
  }),
  'POST /admin/action#reset-user-password': (w) => ({
    url: '/admin/action',
    form: { action: 'reset-user-password', id: w.a.device.userId, password: ADMIN_PASSWORD },
  }),
  'POST /admin/action#delete-user': (w) => ({
    url: '/admin/action',
    form: { action: 'delete-user', id: w.a.device.userId, password: ADMIN_PASSWORD },
  }),
  'GET /admin/api/users': () => ({ url: '/admin/api/users' }),
  'POST /admin/api/users/create': (w) => ({
    url: '/admin/api/users/create',
    json: { username: `api${w.n}`, email: `api${w.n}@example.test`, password: PASSWORD },
  }),
  'POST /admin/api/users/:id/block': (w) => ({
    url: `/admin/api/users/${w.a.device.userId}/block`,
    json: {},
  }),
  'POST /admin/api/users/:id/reset-password': (w) => ({
    url: `/admin/api/users/${w.a.device.userId}/reset-password`,
    json: {},
  }),
  'POST /admin/api/users/:id/edit': (w) => ({
    url: `/admin/api/users/${w.a.device.userId}/edit`,
    json: { username: `ann${w.n}c`, email: `ann${w.n}c@example.test` },
  }),
  'DELETE /admin/api/users/:id': (w) => ({ url: `/admin/api/users/${w.a.device.userId}` }),
  'POST /admin/api/users/:id/:action': (w) => ({
    url: `/admin/api/users/${w.a.device.userId}/frobnicate`,
    json: {},
  }),
  'GET /admin/settings': () => ({ url: '/admin/settings' }),
  'GET /admin/audit': () => ({ url: '/admin/audit?event=DevicePaired&severity=warning' }),
  'POST /admin/action#web-settings': (w) => ({
    url: '/admin/action',
    form: {
      action: 'web-settings',
      password: ADMIN_PASSWORD,
      default_locale: 'en',
      allow_registration: 'on',
      server_name: `Server ${w.n}`,
    },
  }),
  'POST /admin/action#smtp': (w) => ({
    url: '/admin/action',
    form: { ...smtpFields(w), action: 'smtp', password: ADMIN_PASSWORD },
  }),
  'POST /admin/action#smtp-test': () => ({
    url: '/admin/action',
    form: { action: 'smtp-test', password: ADMIN_PASSWORD, test_to: 'ops@example.test' },
  }),
  'POST /admin/api/smtp': (w) => ({ url: '/admin/api/smtp', form: smtpFields(w) }),
  'POST /admin/api/smtp/test': () => ({
    url: '/admin/api/smtp/test',
    json: {
      smtp_host: '127.0.0.1',
      smtp_port: 1,
      smtp_security: 'none',
      smtp_from: 'a@example.test',
    },
  }),
  'POST /admin/action#revoke-device': (w) => ({
    url: '/admin/action',
    form: { action: 'revoke-device', id: w.a.victim.deviceId, password: ADMIN_PASSWORD },
  }),
  'POST /admin/action#delete-device': (w) => ({
    url: '/admin/action',
    form: { action: 'delete-device', id: w.revoked.deviceId, password: ADMIN_PASSWORD },
  }),
  'GET /admin/api/devices': () => ({ url: '/admin/api/devices' }),
  'GET /admin/api/keys': () => ({ url: '/admin/api/keys' }),
  'DELETE /admin/api/keys/:id': (w) => ({ url: `/admin/api/keys/${w.a.victim.deviceId}` }),
  // The dry run: it reads the data directory and must change nothing for anyone.
  'GET /admin/storage': () => ({ url: '/admin/storage?check=1' }),
  'POST /admin/action#cleanup': () => ({
    url: '/admin/action',
    form: { action: 'cleanup', password: ADMIN_PASSWORD },
  }),
  'GET /admin/diagnostics': () => ({ url: '/admin/diagnostics' }),
  'GET /admin/diagnostics.json': () => ({ url: '/admin/diagnostics.json' }),
  'GET /admin/api/stats': () => ({ url: '/admin/api/stats' }),
};

/** The request a role makes: its cookies and tokens, the way a browser or the desktop would. */
function requestOf(method: string, shape: Shape, creds: Credentials): InjectOptions {
  const headers: Record<string, string> = {};
  const jar: Jar = creds.jar ?? new Map();
  const cookie = cookieHeader(jar, shape.url);
  if (cookie) headers.cookie = cookie;
  if (creds.bearer) headers.authorization = `Bearer ${creds.bearer}`;
  const csrf = cookieValue(jar, shape.url, 'csrf_token');
  const formToken = cookieValue(jar, shape.url, 'verstak_locale_csrf');
  if (shape.form) {
    const fields = {
      ...shape.form,
      ...(csrf ? { csrf_token: csrf } : {}),
      ...(formToken ? { locale_csrf: formToken } : {}),
    };
    headers['content-type'] = 'application/x-www-form-urlencoded';
    return { method, url: shape.url, headers, payload: new URLSearchParams(fields).toString() };
  }
  if (csrf && method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrf;
  if (shape.multipart) {
    return {
      method,
      url: shape.url,
      headers: { ...headers, ...shape.multipart.headers },
      payload: shape.multipart.payload,
    };
  }
  return {
    method,
    url: shape.url,
    headers,
    ...(shape.json && method !== 'GET' && method !== 'HEAD' ? { payload: shape.json } : {}),
  };
}

const routeOf = (key: string) => key.split('#')[0]!;
const SELF: ReadonlySet<Role> = new Set(['user', 'userNoCsrf', 'expiredSession', 'device']);
/** The admin may see every device id (the console's forms and API name devices by id). */
const SEES_A: ReadonlySet<Role> = new Set([...SELF, 'admin', 'adminNoCsrf']);

/** The cells to run: every matrix row, and a HEAD twin of each GET that fastify exposes. */
function cells() {
  const out: { key: string; method: string; role: Role; cell: Cell }[] = [];
  for (const [key, row] of Object.entries(AUTHZ_MATRIX)) {
    const method = key.split(' ')[0]!;
    for (const role of ROLES) {
      out.push({ key, method, role, cell: row[role] });
      if (method === 'GET') out.push({ key, method: 'HEAD', role, cell: row[role] });
    }
  }
  return out;
}

describe('authorization matrix (RELIABILITY.md S2)', () => {
  it('lists every registered route, and only registered routes', () => {
    const listed = new Set(Object.keys(AUTHZ_MATRIX).map(routeOf));
    const covered = (route: string) =>
      listed.has(route) || (route.startsWith('HEAD ') && listed.has(`GET ${route.slice(5)}`));
    const missing = [...registered].filter((route) => !covered(route));
    const unregistered = [...listed].filter((route) => !registered.has(route));
    // A new route fails here until its row (and its request shape) is added.
    expect({ missing, unregistered }).toEqual({ missing: [], unregistered: [] });
    expect(Object.keys(SHAPES).sort()).toEqual(Object.keys(AUTHZ_MATRIX).sort());
  });

  for (const { key, method, role, cell } of cells()) {
    const name = method === 'HEAD' ? `${key} (HEAD) as ${role}` : `${key} as ${role}`;
    it(name, async () => {
      if (method === 'HEAD' && !registered.has(`HEAD ${routeOf(key).slice(4)}`)) return;
      const world = await buildWorld();
      const request = requestOf(method, SHAPES[key]!(world), credentialsOf(world, role));
      const before = server.runtime.store.head();
      const res = await inject(request);
      expect(cell.status, `${res.statusCode} ${res.body.slice(0, 300)}`).toContain(res.statusCode);
      const after = server.runtime.store.head();
      if (!cell.mayWrite) expect(after, 'state changed').toBe(before);
      // A permitted write must happen: it shows the body was valid, so a refusal means authz.
      else expect(after, 'nothing written').toBeGreaterThan(before);
      if (res.statusCode === 302 && cell.status.includes(302) && !SELF.has(role)) {
        expect(res.headers.location).toMatch(/^\/(admin\/)?(login|dashboard)$/);
      }
      if (!SEES_A.has(role)) {
        for (const secret of world.secretsOfA) expect(res.body).not.toContain(secret);
      }
    });
  }
});
