import { closeSync, existsSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { createLogSink } from '../../src/logger-sink.js';
import { seedRetention } from '../commands/cleanup-fixtures.js';
import { type TestServer } from '../helpers/sync-app.js';
import { WebClient } from './browser-client.js';
import { ADMIN_PASSWORD, adminBrowser, logHead, startAdminServer } from './admin-rig.js';

// CONTRACT.md §9 /admin/storage and /admin/diagnostics, §10 the stats and diagnostics JSON,
// §11 `cleanup`: the dry run changes nothing, the run needs the password and removes what
// the dry run reported.

const NOW = '2026-12-04T12:00:00.000Z';

const textOf = (html: string) => html.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ');
const attrValue = (html: string, attr: string, name: string) =>
  new RegExp(`${attr}="${name}">([^<]*)<`).exec(html)?.[1];

/** Every file under the data directory, relative to it: what a dry run must not touch. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? filesUnder(dir, join(prefix, e.name)) : [join(prefix, e.name)],
    )
    .sort();
}

async function seededServer() {
  const clock = createManualClock(NOW);
  const server = await startAdminServer({ clock });
  const files = seedRetention(server.runtime, clock.now());
  return { server, clock, files, admin: await adminBrowser(server) };
}

const csrfOf = (client: WebClient) => client.cookies.get('csrf_token') ?? '';

async function cleanupWith(server: TestServer, client: WebClient, password: string) {
  return client.post('/admin/action', {
    csrf_token: csrfOf(client),
    action: 'cleanup',
    password,
  });
}

describe('storage page', () => {
  it('shows the totals and says when no cleanup has removed anything yet', async () => {
    const { admin } = await seededServer();
    const res = await admin.get('/admin/storage');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toContain('no-store');
    const html = res.body;
    expect(attrValue(html, 'data-stat', 'blobs')).toBe('1');
    expect(attrValue(html, 'data-stat', 'referenced')).toBe('1');
    expect(attrValue(html, 'data-stat', 'unreferenced')).toBe('0');
    expect(attrValue(html, 'data-stat', 'temp-uploads')).toBe('2');
    expect(attrValue(html, 'data-stat', 'expired-sessions')).toBe('1');
    expect(attrValue(html, 'data-stat', 'old-answers')).toBe('1');
    expect(html).toContain('data-last="none"');
    // The cleanup form appears only with a dry run's answer.
    expect(html).not.toContain('value="cleanup"');
    expect(html).toContain('href="/admin/storage" aria-current="page"');
  });

  it('answers the dry run with counts and bytes, and changes neither the log nor a file', async () => {
    const { server, admin } = await seededServer();
    const head = logHead(server);
    const before = filesUnder(server.dir);
    const res = await admin.get('/admin/storage?check=1');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('data-plan="some"');
    expect(attrValue(res.body, 'data-plan-row', 'sessions')).toBe('1');
    expect(attrValue(res.body, 'data-plan-row', 'email-tokens')).toBe('1');
    expect(attrValue(res.body, 'data-plan-row', 'push-answers')).toBe('1');
    expect(attrValue(res.body, 'data-plan-row', 'temp-uploads')).toBe('1 (10 bytes)');
    expect(attrValue(res.body, 'data-plan-row', 'blob-files')).toBe('1 (6 bytes)');
    expect(res.body).toContain('value="cleanup"');
    expect(logHead(server)).toBe(head);
    expect(filesUnder(server.dir)).toEqual(before);
  });

  it('refuses the cleanup without the right password and changes nothing', async () => {
    const { server, admin, files } = await seededServer();
    const head = logHead(server);
    for (const password of ['', 'wrong password']) {
      const res = await cleanupWith(server, admin, password);
      expect(res.statusCode).toBe(403);
      expect(logHead(server)).toBe(head);
    }
    expect(existsSync(files.tempOld)).toBe(true);
    expect(existsSync(files.orphan)).toBe(true);
    const noCsrf = await admin.post('/admin/action', {
      action: 'cleanup',
      password: ADMIN_PASSWORD,
    });
    expect(noCsrf.statusCode).toBe(403);
    expect(logHead(server)).toBe(head);
  });

  it('removes what the dry run reported and shows it as the last cleanup', async () => {
    const { server, admin, files } = await seededServer();
    const plan = (await admin.get('/admin/storage?check=1')).body;
    const planned = ['sessions', 'email-tokens', 'push-answers', 'temp-uploads', 'blob-files'].map(
      (k) => attrValue(plan, 'data-plan-row', k),
    );
    const head = logHead(server);
    const res = await cleanupWith(server, admin, ADMIN_PASSWORD);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/admin/storage?flash=cleanup_done');
    expect(logHead(server)).toBe(head + 1);
    const event = server.runtime.store.readRange(head, 1)[0]!;
    expect(event.type).toBe('CleanupRan');
    expect(event.meta.actor).toBe('admin:root');
    expect(existsSync(files.tempOld)).toBe(false);
    expect(existsSync(files.orphan)).toBe(false);
    expect(existsSync(files.referenced)).toBe(true);
    expect(existsSync(files.tempNew)).toBe(true);

    const page = (await admin.get(res.headers.location as string)).body;
    expect(page).toContain('role="status"');
    expect(textOf(page)).toContain('Cleanup finished.');
    const removed = ['sessions', 'email-tokens', 'push-answers', 'temp-uploads', 'blob-files'].map(
      (k) => attrValue(page, 'data-removed', k),
    );
    expect(removed).toEqual(planned);
    expect(attrValue(page, 'data-stat', 'last-by')).toBe('root');

    // Nothing is left: the dry run says so, and a second run records nothing.
    const again = await admin.get('/admin/storage?check=1');
    expect(again.body).toContain('data-plan="nothing"');
    expect(again.body).not.toContain('value="cleanup"');
    const second = await cleanupWith(server, admin, ADMIN_PASSWORD);
    expect(second.headers.location).toBe('/admin/storage?flash=cleanup_done&nothing=1');
    expect(logHead(server)).toBe(head + 1);
    const stats = (await admin.get('/admin/api/stats')).json<{ last_cleanup_at: string }>();
    expect(stats.last_cleanup_at).toBe('2026-12-04T12:00:00Z');
  });
});

const STATS_KEYS = [
  'users',
  'active_users',
  'blocked_users',
  'unconfirmed_users',
  'active_devices',
  'revoked_devices',
  'vaults',
  'operations',
  'operations_24h',
  'blobs',
  'blob_references',
  'orphan_blobs',
  'temp_uploads',
  'expired_sessions',
  'expired_email_tokens',
  'audit_events',
  'database_bytes',
  'blob_bytes',
  'last_sync_activity',
  'last_cleanup_at',
];

/** What the JSON must never carry: the data directory, a file name, a digest or a token. */
function expectNothingSecret(server: TestServer, body: string) {
  expect(body).not.toContain(server.dir);
  expect(body).not.toContain('server.db');
  expect(body).not.toMatch(/[0-9a-f]{32}/);
  expect(body).not.toContain('password');
}

describe('admin JSON', () => {
  it('answers /admin/api/stats with exactly the contract fields', async () => {
    const { server, admin } = await seededServer();
    const res = await admin.get('/admin/api/stats');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.headers['cache-control']).toContain('no-store');
    const body = res.json<Record<string, unknown>>();
    expect(Object.keys(body)).toEqual(STATS_KEYS);
    expect(body).toMatchObject({
      blobs: 1,
      blob_references: 1,
      orphan_blobs: 0,
      temp_uploads: 2,
      expired_sessions: 1,
      expired_email_tokens: 2,
      blob_bytes: 10,
      last_cleanup_at: '',
    });
    expect(body.database_bytes).toBeGreaterThan(0);
    expectNothingSecret(server, res.body);
  });

  it('answers /admin/diagnostics.json with health, stats, limits and web only', async () => {
    const { server, admin } = await seededServer();
    const res = await admin.get('/admin/diagnostics.json');
    expect(res.statusCode).toBe(200);
    const body = res.json<Record<string, Record<string, unknown>>>();
    expect(Object.keys(body)).toEqual(['health', 'stats', 'limits', 'web']);
    expect(Object.keys(body.health!)).toEqual([
      'status',
      'version',
      'build_commit',
      'uptime_seconds',
      'database_reachable',
      'database_writable',
      'blob_storage_writable',
      'degraded_reasons',
      'log_lines_dropped',
      'checkpoint_worker_failures',
      'schema_version',
      'log_epoch',
      'server_time',
    ]);
    expect(body.health).toMatchObject({ status: 'ok', database_reachable: true });
    expect(Object.keys(body.stats!)).toEqual(STATS_KEYS);
    const limits = server.runtime.config.limits;
    expect(body.limits).toEqual({
      max_json_body: limits.max_json_body,
      max_push_operations: limits.max_push_operations,
      max_pull_page: limits.max_pull_page,
      max_blob_bytes: limits.max_blob_bytes,
    });
    expect(body.web).toEqual({ default_locale: 'en', registration_allowed: true });
    // The build's commit and the log epoch are public (the health endpoint answers them);
    // nothing else is a digest.
    expectNothingSecret(
      server,
      JSON.stringify({ ...body, health: { ...body.health, build_commit: '', log_epoch: '' } }),
    );
  });

  it('sends a browser without an admin session to the sign-in, for pages and JSON alike', async () => {
    const { server } = await seededServer();
    const guest = new WebClient(server.app);
    for (const url of [
      '/admin/storage',
      '/admin/storage?check=1',
      '/admin/diagnostics',
      '/admin/diagnostics.json',
      '/admin/api/stats',
    ]) {
      const res = await guest.get(url);
      expect(res.statusCode, url).toBe(302);
      expect(res.headers.location).toBe('/admin/login');
    }
  });
});

describe('diagnostics page', () => {
  it('shows health, limits, the log head and every read model at it', async () => {
    const { server, admin } = await seededServer();
    const res = await admin.get('/admin/diagnostics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toContain('no-store');
    const html = res.body;
    expect(textOf(html)).toContain('Working');
    const head = logHead(server);
    expect(attrValue(html, 'data-diag', 'head')).toBe(String(head));
    const hash = server.runtime.store.readRows(head - 1, 1)[0]!.hash;
    expect(html).toContain(`<code class="diag-hash">${hash}</code>`);
    for (const p of server.runtime.projector.projections) {
      expect(html).toContain(`data-projection="${p.name}"`);
    }
    expect(html.match(/badge badge-ok">Up to date/g)?.length).toBe(
      server.runtime.projector.projections.length,
    );
    expect(attrValue(html, 'data-limit', 'max_push_operations')).toBe(
      new Intl.NumberFormat('en').format(server.runtime.config.limits.max_push_operations),
    );
    expect(html).not.toContain(server.dir);
  });

  it('shows the log lines the output dropped and the checkpoint worker failures, as health does', async () => {
    // A real sink on /dev/full: every write fails with ENOSPC, as on a full disk under stdout.
    const fd = openSync('/dev/full', 'w');
    try {
      const logOutput = createLogSink(fd);
      const server = await startAdminServer({ logOutput });
      const admin = await adminBrowser(server);
      const before = await admin.get('/admin/diagnostics');
      expect(attrValue(before.body, 'data-diag', 'log-dropped')).toBe('0');
      for (let i = 0; i < 3; i += 1) logOutput.write(`{"msg":"line ${i}"}\n`);
      await vi.waitFor(() => expect(logOutput.stats().droppedLines).toBe(3), { timeout: 5_000 });
      const html = (await admin.get('/admin/diagnostics')).body;
      expect(html).toMatch(/data-diag="log-dropped"><span class="badge badge-warn"[^>]*>3</);
      expect(attrValue(html, 'data-diag', 'checkpoint-failures')).toBe('0');
      const json = (await admin.get('/admin/diagnostics.json')).json<{
        health: Record<string, unknown>;
      }>();
      expect(json.health.log_lines_dropped).toBe(3);
      const health = (await server.app.inject('/api/v1/health')).json<Record<string, unknown>>();
      expect(health.log_lines_dropped).toBe(3);
    } finally {
      closeSync(fd);
    }
  });

  it('speaks Russian to a Russian browser', async () => {
    const { server } = await seededServer();
    const admin = await adminBrowser(server, { 'accept-language': 'ru' });
    for (const [url, title] of [
      ['/admin/diagnostics', 'Диагностика'],
      ['/admin/storage?check=1', 'Очистка сейчас удалит'],
    ] as const) {
      const res = await admin.get(url);
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('<html lang="ru">');
      expect(res.body).toContain(title);
    }
  });
});
