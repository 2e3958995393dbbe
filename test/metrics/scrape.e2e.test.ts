import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { createMailer } from '../../src/mail/mailer.js';
import { enqueueMail } from '../../src/mail/outbox.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.js';
import {
  addUser,
  pair,
  pull,
  push,
  pushAccepted,
  textOp,
  type TestServer,
} from '../helpers/sync-app.js';
import { labelSets, sample } from './exposition.js';

const TOKEN = 'metrics-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };

interface World extends TestServer {
  readonly metrics?: Metrics;
}

let open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.reverse()) await o.close();
  open = [];
});

/**
 * The server as serve composes it (one runtime, its metrics, the app), answering through
 * inject; `metrics: 'serve'` passes the metrics in as serve does for a metrics listener,
 * otherwise the app makes its own from config.yml.
 */
async function openWorld(settings: Record<string, unknown>, metrics?: 'serve'): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'vss-metrics-'));
  const runtime: Runtime = openRuntime({ dataDir: dir, config: ConfigSchema.parse(settings) });
  const own = metrics ? await createMetrics(runtime) : undefined;
  const app: FastifyInstance = await buildApp({
    ...runtime,
    logger: false,
    ...(own ? { metrics: own } : {}),
  });
  const world = {
    runtime,
    app,
    dir,
    ...(own ? { metrics: own } : {}),
    async close() {
      await app.close();
      own?.close();
      runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  open.push(world);
  return world;
}

const scrape = async (world: World) => {
  const res = await world.app.inject({ method: 'GET', url: '/metrics', headers: auth });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.body;
};

async function startSmtp(): Promise<TestSmtpServer> {
  const smtp = await startSmtpServer();
  open.push(smtp);
  return smtp;
}

describe('GET /metrics after real traffic', () => {
  it('counts a push, a pull, failed logins, a rate-limit refusal and a mail', async () => {
    const world = await openWorld({ metrics: { token: TOKEN } }, 'serve');
    await addUser(world, 'alice');
    const laptop = await pair(world, 'alice', 'notes', 'laptop');
    const phone = await pair(world, 'alice', 'notes', 'phone');

    // Two batches from the laptop: three new ops, then one retried and one new.
    await pushAccepted(world, laptop, [
      textOp('a1', 'a.md', 'one'),
      textOp('a2', 'b.md', 'two'),
      textOp('a3', 'c.md', 'three'),
    ]);
    await pushAccepted(world, laptop, [textOp('a3', 'c.md', 'three'), textOp('a4', 'd.md', 'x')]);
    // The phone edits a.md having seen nothing of the laptop's: one conflict.
    const answer = await pushAccepted(world, phone, [
      textOp('p1', 'a.md', 'mine', { last_seen_server_seq: 1 }),
    ]);
    expect(answer.conflicts).toHaveLength(1);
    // An op_id reused for other content is rejected inside an answered push.
    await pushAccepted(world, phone, [textOp('a1', 'a.md', 'not the same')]);
    // A malformed push is refused whole.
    const refused = await push(world, laptop, [{ op_id: '' } as never]);
    expect(refused.statusCode).toBe(400);

    const page = await pull(world, phone, 0);
    expect(page.statusCode).toBe(200);
    // A first sync sends each entity's newest op only (a.md twice becomes once).
    const pulledOps = page.json<{ ops: unknown[] }>().ops.length;
    expect(pulledOps).toBe(4);

    // Ten wrong passwords from one address, then the eleventh is rate limited.
    for (let i = 0; i < 11; i++) {
      const res = await world.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        remoteAddress: '10.1.2.3',
        payload: { username: 'alice', password: `wrong password ${i}` },
      });
      expect(res.statusCode).toBe(i < 10 ? 401 : 429);
    }

    const smtp = await startSmtp();
    world.runtime.settings.changeSmtp(
      {
        host: '127.0.0.1',
        port: smtp.port,
        security: 'none',
        from: 'sync@example.test',
        publicUrl: 'https://sync.example.test',
      },
      { actor: 'test' },
    );
    enqueueMail(
      world.runtime.db,
      { to: 'alice@example.test', template: 'smtp-test', locale: 'en', params: {} },
      new Date(world.runtime.clock.now().getTime() - 90_000),
    );

    let text = await scrape(world);
    expect(sample(text, 'verstak_push_batches_total', { outcome: 'committed' })).toBe(4);
    expect(sample(text, 'verstak_push_batches_total', { outcome: 'refused' })).toBe(1);
    expect(sample(text, 'verstak_push_batches_total', { outcome: 'replayed' })).toBe(0);
    expect(sample(text, 'verstak_push_ops_total', { outcome: 'accepted' })).toBe(5);
    expect(sample(text, 'verstak_push_ops_total', { outcome: 'duplicate' })).toBe(1);
    expect(sample(text, 'verstak_push_ops_total', { outcome: 'rejected' })).toBe(1);
    expect(sample(text, 'verstak_push_conflicts_total')).toBe(1);
    expect(sample(text, 'verstak_pull_pages_total')).toBe(1);
    expect(sample(text, 'verstak_pull_ops_total')).toBe(pulledOps);
    expect(sample(text, 'verstak_log_head')).toBe(world.runtime.store.head());

    const requests = (route: string, status: string, method = 'POST') =>
      sample(text, 'verstak_http_request_duration_seconds_count', { method, route, status });
    expect(requests('/api/v1/sync/push', '200')).toBe(4);
    expect(requests('/api/v1/sync/push', '400')).toBe(1);
    expect(requests('/api/v1/sync/pull', '200')).toBe(1);
    expect(requests('/api/v1/auth/login', '401')).toBe(10);
    expect(requests('/api/v1/auth/login', '429')).toBe(1);
    // Route patterns only, never a URL as a client sent it.
    for (const set of labelSets(text, 'verstak_http_request_duration_seconds_count')) {
      expect(set.route === 'unmatched' || set.route!.startsWith('/')).toBe(true);
    }

    expect(sample(text, 'verstak_auth_refusals_total', { kind: 'user_login' })).toBe(10);
    expect(sample(text, 'verstak_auth_refusals_total', { kind: 'rate_limit' })).toBe(1);
    expect(
      sample(text, 'verstak_rate_limit_refusals_total', { action: 'login', scope: 'client' }),
    ).toBe(1);
    expect(sample(text, 'verstak_argon2_shed_total')).toBe(0);
    expect(sample(text, 'verstak_argon2_queued')).toBe(0);
    // Every push is one command; group commits held them all, in groups of one or more.
    const grouped = sample(text, 'verstak_group_commit_size_sum');
    expect(grouped).toBeGreaterThanOrEqual(4);

    expect(sample(text, 'verstak_mail_outbox_pending', { state: 'new' })).toBe(1);
    expect(sample(text, 'verstak_mail_outbox_oldest_age_seconds')).toBeGreaterThanOrEqual(90);
    expect(sample(text, 'verstak_mail_deliveries_total', { result: 'sent' })).toBe(0);
    expect(sample(text, 'verstak_live_connections', { kind: 'stream' })).toBe(0);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

    const mailer = createMailer(world.runtime, createLogger({ level: 'silent' }));
    world.metrics!.watchMailer(mailer);
    await mailer.deliverDue();
    await smtp.waitForMessages(1);

    text = await scrape(world);
    expect(sample(text, 'verstak_mail_deliveries_total', { result: 'sent' })).toBe(1);
    expect(sample(text, 'verstak_mail_outbox_pending', { state: 'new' })).toBe(0);
    expect(sample(text, 'verstak_mail_outbox_oldest_age_seconds')).toBe(0);
  });

  it('counts a push answered from its idempotency key as replayed, its ops as duplicates', async () => {
    const world = await openWorld({ metrics: { token: TOKEN } });
    await addUser(world, 'bob');
    const laptop = await pair(world, 'bob', 'notes');
    const ops = [textOp('b1', 'a.md', 'one'), textOp('b2', 'b.md', 'two')];
    for (let i = 0; i < 2; i++) {
      const res = await push(world, laptop, ops, { idempotency_key: 'k1' });
      expect(res.statusCode).toBe(200);
    }
    const text = await scrape(world);
    expect(sample(text, 'verstak_push_batches_total', { outcome: 'committed' })).toBe(1);
    expect(sample(text, 'verstak_push_batches_total', { outcome: 'replayed' })).toBe(1);
    expect(sample(text, 'verstak_push_ops_total', { outcome: 'accepted' })).toBe(2);
    expect(sample(text, 'verstak_push_ops_total', { outcome: 'duplicate' })).toBe(2);
  });
});

describe('live connections', () => {
  it('counts an open event stream and a waiting pull, and neither once they end', async () => {
    const world = await openWorld({ metrics: { token: TOKEN } });
    await addUser(world, 'carol');
    const device = await pair(world, 'carol', 'notes');
    await world.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(world.app.server.address() as AddressInfo).port}`;
    const headers = { authorization: `Bearer ${device.token}` };
    const port = (world.app.server.address() as AddressInfo).port;
    const request = httpRequest({ host: '127.0.0.1', port, path: '/api/v1/sync/events', headers });
    const stream = await new Promise<IncomingMessage>((resolve, reject) => {
      request.on('response', resolve).on('error', reject).end();
    });
    expect(stream.statusCode).toBe(200);
    const waited = fetch(`${base}/api/v1/sync/pull`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ since_sequence: world.runtime.store.head(), wait_ms: 20_000 }),
    });
    const live = async (kind: string) =>
      sample(await scrape(world), 'verstak_live_connections', { kind });
    const until = async (kind: string, value: number) => {
      for (let i = 0; i < 200 && (await live(kind)) !== value; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(await live(kind)).toBe(value);
    };
    await until('stream', 1);
    await until('waiter', 1);
    await pushAccepted(world, device, [textOp('c1', 'a.md', 'wake up')]);
    expect((await waited).status).toBe(200);
    await until('waiter', 0);
    request.destroy();
    await until('stream', 0);
  });
});

describe('who may read /metrics on the public listener', () => {
  it('is an unknown path when no token is configured', async () => {
    const world = await openWorld({});
    const res = await world.app.inject({ method: 'GET', url: '/metrics', headers: auth });
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('verstak_');
  });

  it('is an unknown path even when serve runs metrics on a listener of their own', async () => {
    const world = await openWorld({}, 'serve');
    const res = await world.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(404);
    expect(await world.metrics!.render()).toContain('verstak_log_head');
  });

  it('answers 401 in the contract body without the token or with a wrong one', async () => {
    const world = await openWorld({ metrics: { token: TOKEN } });
    const headers = [
      {},
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
      { authorization: TOKEN },
      { authorization: 'Bearer ' },
    ];
    for (const h of headers) {
      const res = await world.app.inject({ method: 'GET', url: '/metrics', headers: h });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: expect.any(String), code: 'unauthorized' });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(res.body).not.toContain('verstak_');
    }
    expect(await scrape(world)).toContain('verstak_log_head');
  });

  it('refuses a token shorter than 16 characters in config.yml', () => {
    expect(ConfigSchema.safeParse({ metrics: { token: 'short' } }).success).toBe(false);
  });
});
