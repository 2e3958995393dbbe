import type { FastifyInstance } from 'fastify';
import { stderrProgress } from '../../src/cli/progress.js';
import { createManualClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { openRuntime } from '../../src/runtime.js';
import { createPasswordHasher } from '../../src/security/passwords.js';
import { say, type BenchOptions, type Section, type SectionResult } from './section.js';
import { percentile } from './stats.js';
import { ROUTES, routeContext, type BenchRoute, type RouteContext } from './web-routes.js';
import { seededDirectory } from './web-seed.js';
import { createWeigher, WEIGHT_GOAL_BYTES } from './web-weight.js';
import { shapeAt } from './web-timeline.js';

// The admin console on a large server: each admin page and admin JSON call, requested by a
// signed-in admin through app.inject (no socket: the server's own time, from the request
// to the end of the response), p50 and p95 over --rounds requests, against the goal of
// 50 ms; and each page's weight, its HTML plus the CSS and JS it references.

const GOAL_MS = 50;
const DATA_ROOT = '.bench-data';
const ADMIN = 'bench';
const ADMIN_PASSWORD = 'bench admin password';

type Row = Record<string, string | number>;

async function measure(
  app: FastifyInstance,
  cookie: string,
  route: BenchRoute,
  context: RouteContext,
  rounds: number,
  weigh: (html: string) => Promise<number>,
): Promise<Row> {
  const url = route.url(context);
  const get = () =>
    app.inject({ method: 'GET', url, headers: { cookie, 'accept-language': 'en' } });
  const first = await get();
  // A second untimed request: prepared statements and templates are compiled by now.
  await get();
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const res = await get();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    if (res.statusCode !== first.statusCode)
      throw new Error(`${url}: ${res.statusCode} then ${first.statusCode}`);
  }
  const p95 = percentile(times, 95);
  const bytes = route.kind === 'page' && first.statusCode === 200 ? await weigh(first.body) : NaN;
  return {
    route: route.name,
    status: String(first.statusCode),
    p50: percentile(times, 50),
    p95,
    max: Math.max(...times),
    cpu: percentile(cpu, 50),
    goal: p95 <= GOAL_MS ? 'yes' : 'NO',
    kb: bytes / 1000,
    weight: Number.isNaN(bytes) ? '' : bytes < WEIGHT_GOAL_BYTES ? 'yes' : 'NO',
  };
}

async function run(options: BenchOptions): Promise<SectionResult> {
  const shape = shapeAt(options.scale);
  const seeded = seededDirectory(shape, DATA_ROOT);
  const hash = await createPasswordHasher().hash(ADMIN_PASSWORD);
  const dir = seeded.dir;
  // The seed's own "now": relative dates and the last 24 h read as on the seeding day.
  const clock = createManualClock(new Date(Date.parse(seeded.end) + 60_000));
  const config = { ...loadConfig(dir), admin: [{ username: ADMIN, password_hash: hash }] };
  // A projection whose version changed since the seeding is rebuilt here, as at start-up.
  const runtime = openRuntime({
    dataDir: dir,
    config,
    clock,
    onRebuildProgress: stderrProgress('rebuilding projections'),
  });
  const rows: Row[] = [];
  try {
    const app = await buildApp({ ...runtime, logger: false });
    try {
      const session = await runtime.adminSessions.login(ADMIN, ADMIN_PASSWORD, '', {
        actor: 'anonymous',
      });
      if (!session) throw new Error('the bench admin could not sign in');
      const cookie = `admin_session=${session.token}`;
      const context = routeContext(runtime.db);
      const weigh = createWeigher(app);
      for (const route of ROUTES) {
        const row = await measure(app, cookie, route, context, options.rounds, weigh);
        say(`web: ${route.name}: ${row.status} p95 ${Number(row.p95).toFixed(1)} ms`);
        rows.push(row);
      }
    } finally {
      await app.close();
    }
  } finally {
    runtime.close();
  }
  const count = (n: number) => n.toLocaleString('en-US');
  const seeding = seeded.cached
    ? `reused ${dir} (seeded earlier: appends ${seeded.appendSeconds.toFixed(0)} s, projections ${seeded.projectionSeconds.toFixed(0)} s)`
    : `seeded now: appends ${seeded.appendSeconds.toFixed(0)} s, projections ${seeded.projectionSeconds.toFixed(0)} s`;
  return {
    name: 'web',
    title: `Admin console: server-side time of each page and API call (goal p95 <= ${GOAL_MS} ms, page < 60 KB)`,
    notes: [
      `data: ${count(shape.users)} users, ${count(shape.devices)} devices, ${count(shape.ops)} ops, ` +
        `${count(seeded.events - shape.ops)} other events (${count(seeded.events)} in all, scale ${options.scale}); ` +
        `database ${seeded.databaseMiB.toFixed(0)} MiB`,
      seeding,
      `${options.rounds} timed requests per route after 2 untimed ones; app.inject, one at a time, a signed-in admin, English`,
      'CPU: the process CPU time during the request (user + system): unlike the wall-clock columns, other processes on the machine do not add to it',
      'KB: the HTML plus the stylesheets and scripts it references, uncompressed (1 KB = 1000 bytes)',
    ],
    columns: [
      { key: 'route', label: 'route', format: 'text' },
      { key: 'status', label: 'status', format: 'text' },
      { key: 'p50', label: 'p50 ms', format: 'ms' },
      { key: 'p95', label: 'p95 ms', format: 'ms' },
      { key: 'max', label: 'max ms', format: 'ms' },
      { key: 'cpu', label: 'CPU p50 ms', format: 'ms' },
      { key: 'goal', label: `p95<=${GOAL_MS}`, format: 'text' },
      { key: 'kb', label: 'KB', format: 'decimal' },
      { key: 'weight', label: '<60KB', format: 'text' },
    ],
    rows,
  };
}

export const webSection: Section = {
  name: 'web',
  description:
    'admin console pages and API calls on 10k users, 20k devices, 1M ops (--scale, --rounds)',
  run,
};
