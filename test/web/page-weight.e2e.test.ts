import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/log/index.js';
import { appendEpisodes, recordActivity } from '../../scripts/bench/web-seed.js';
import { buildTimeline } from '../../scripts/bench/web-timeline.js';
import { assetsOf, createWeigher, WEIGHT_GOAL_BYTES } from '../../scripts/bench/web-weight.js';
import { createPasswordHasher } from '../../src/security/passwords.js';
import { addUser, PASSWORD, startTestServer, type TestServer } from '../helpers/sync-app.js';
import { ADMIN, ADMIN_PASSWORD, adminBrowser } from './admin-rig.js';
import { WebClient } from './browser-client.js';

// Every page, admin and user, rendered with realistic data (full lists of 25 rows), weighs
// less than 60 KB with the CSS and JS it references (the web bench prints the same figure
// on its large data set). Pages of sections not built yet answer 404 and are skipped by
// name; once one exists it is weighed.

/** A list's rows: the console's tables, the user dashboard's device items. */
const rowsOf = (html: string) => html.match(/<th scope="row"|<li class="device[" ]/g)?.length ?? 0;

/** The web bench's log, small: 60 users, 120 devices, 3,000 ops; and "reader" with 25 devices. */
async function realisticServer() {
  const password_hash = await createPasswordHasher().hash(ADMIN_PASSWORD);
  // One server for the whole file (admin-rig's servers close after each test).
  const server = await startTestServer({
    settings: { admin: [{ username: ADMIN, password_hash }] },
  });
  const { db, store, projector } = server.runtime;
  const readerId = await addUser(server, 'reader');
  const end = Date.parse('2026-12-01T00:00:00Z');
  const timeline = buildTimeline({ users: 60, devices: 120, ops: 3000, otherEvents: 900 }, end);
  const { lastSeen } = appendEpisodes(db, store, timeline, false);
  const names = ['Work laptop', 'Домашний ноутбук', 'DESKTOP-7A8590A', 'MacBook Pro (2023)'];
  for (let i = 0; i < 25; i++) {
    const deviceId = `dev_reader${String(i).padStart(16, '0')}`;
    const token = sha256Hex(`reader token ${i}`);
    store.append(
      [
        {
          stream: `device/${deviceId}`,
          events: [
            {
              type: 'DevicePaired',
              data: {
                deviceId,
                userId: readerId,
                vaultId: i % 3 === 0 ? 'research-2025' : 'personal notes',
                name: `${names[i % names.length]} ${i + 1}`,
                clientVersion: 'verstak-desktop/1.4.2',
                tokenHash: sha256Hex(token),
                tokenHint: `${token.slice(0, 8)}…${token.slice(-4)}`,
                via: 'pair',
              },
            },
          ],
        },
      ],
      { actor: `user:${readerId}` },
      new Date(end - i * 3_600_000),
    );
  }
  projector.rebuildAll();
  recordActivity(db, lastSeen);
  const vault = db
    .prepare('SELECT user_id, vault_id FROM vaults ORDER BY op_count DESC LIMIT 1')
    .get() as { user_id: string; vault_id: string };
  return { server, vault, readerId };
}

interface Page {
  readonly url: string;
  /** Lists: the page must show this many rows, so that it is weighed full. */
  readonly rows?: number;
  /** Another section's page: a 404 means "not built yet". */
  readonly optional?: boolean;
}

let server: TestServer;
let vaultDetail: string;
let readerDetail: string;
// Signed in once each: every sign-in counts against the login rate limit of the address.
let admin: WebClient;
let reader: WebClient;
beforeAll(async () => {
  const built = await realisticServer();
  server = built.server;
  admin = await adminBrowser(server);
  reader = new WebClient(server.app, { 'accept-language': 'ru' });
  const signIn = await reader.submit('/login', '/login', {
    username: 'reader',
    password: PASSWORD,
  });
  expect(signIn.statusCode, signIn.body).toBe(303);
  readerDetail = `/admin/user/?id=${built.readerId}`;
  vaultDetail = `/admin/vault/?user=${built.vault.user_id}&vault=${encodeURIComponent(built.vault.vault_id)}`;
});
afterAll(async () => server?.close());

/** A page whose URL is known once the server is seeded. */
interface LatePage {
  readonly name: string;
  readonly page: () => Page;
}

const ADMIN_PAGES: readonly (Page | LatePage)[] = [
  { url: '/admin/dashboard' },
  { url: '/admin/users', rows: 25 },
  { url: '/admin/users?sort=username&order=asc', rows: 25 },
  { url: '/admin/devices', rows: 25 },
  { url: '/admin/vaults', rows: 25 },
  { name: '/admin/vault/ (the busiest vault)', page: () => ({ url: vaultDetail }) },
  // "reader" has 25 devices: the device table's 25 rows, each with its form.
  { name: '/admin/user/ (a user with 25 devices)', page: () => ({ url: readerDetail, rows: 25 }) },
  { url: '/admin/storage', optional: true },
  { url: '/admin/audit', optional: true },
  { url: '/admin/settings', optional: true },
  { url: '/admin/diagnostics', optional: true },
  { url: '/admin/create-user', optional: true },
];

const USER_PAGES: readonly Page[] = [
  { url: '/' },
  { url: '/login' },
  { url: '/register' },
  { url: '/forgot' },
  { url: '/forgot/sent' },
  { url: '/register/result' },
  { url: '/confirm/result' },
  { url: '/reset/done' },
  { url: '/admin/login' },
];

describe('an admin page with 25-row lists stays under 60 KB with its CSS and JS', () => {
  for (const entry of ADMIN_PAGES) {
    const name = 'page' in entry ? entry.name : entry.url;
    it(name, async () => {
      const page = 'page' in entry ? entry.page() : entry;
      const res = await admin.get(page.url);
      if (res.statusCode === 404 && page.optional) return; // that section is not built yet
      expect(res.statusCode, page.url).toBe(200);
      if (page.rows) expect(rowsOf(res.body), page.url).toBe(page.rows);
      expect(assetsOf(res.body), page.url).toContain('/static/app.css');
      expect(await createWeigher(server.app)(res.body)).toBeLessThan(WEIGHT_GOAL_BYTES);
    });
  }
});

describe('a user page stays under 60 KB with its CSS and JS', () => {
  for (const page of USER_PAGES) {
    it(page.url, async () => {
      const res = await new WebClient(server.app, { 'accept-language': 'ru' }).get(page.url);
      expect(res.statusCode, page.url).toBe(200);
      expect(await createWeigher(server.app)(res.body)).toBeLessThan(WEIGHT_GOAL_BYTES);
    });
  }

  it('/dashboard with 25 devices', async () => {
    const res = await reader.get('/dashboard');
    expect(res.statusCode).toBe(200);
    expect(rowsOf(res.body)).toBe(25);
    expect(await createWeigher(server.app)(res.body)).toBeLessThan(WEIGHT_GOAL_BYTES);
  });

  it('the 404 page', async () => {
    const res = await new WebClient(server.app).get('/no-such-page');
    expect(res.statusCode).toBe(404);
    expect(await createWeigher(server.app)(res.body)).toBeLessThan(WEIGHT_GOAL_BYTES);
  });
});

describe('the weigher', () => {
  it('counts the referenced CSS and JS, so that a heavy asset fails', async () => {
    const page = (await new WebClient(server.app).get('/login')).body;
    const css = (await server.app.inject({ method: 'GET', url: '/static/app.css' })).rawPayload;
    expect(assetsOf(page)).toContain('/static/app.css');
    expect(await createWeigher(server.app)(page)).toBeGreaterThanOrEqual(
      Buffer.byteLength(page) + css.length,
    );
  });
});
