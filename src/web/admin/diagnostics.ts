import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { Locale } from '../../http/locale.js';
import { checkHealth } from '../../http/routes/health.js';
import { readBuildInfo } from '../../version.js';
import { formatDate, formatSize } from '../format.js';
import { translator, type MessageKey, type Translate } from '../i18n/index.js';
import type { WebDeps } from '../index.js';
import { localeOf } from '../page.js';
import { adminApi } from './api-guard.js';
import type { AdminScope } from './inventory.js';
import { serverFigures, statsBody } from './server-figures.js';

// CONTRACT.md §9 /admin/diagnostics and §10 /admin/diagnostics.json: health as the health
// endpoint reports it, the figures, the limits, and the log and read models' progress.
// The JSON carries no path, token, hash or payload; the page shows the chain head, which
// an operator compares with `verify`.

/**
 * The web settings the JSON reports. Read through deps.webSettings (the admin's saved
 * settings, else config.yml) in this one place, so a change of their source touches here.
 */
export const webFacts = (deps: Pick<WebDeps, 'webSettings'>) => {
  const web = deps.webSettings();
  return { default_locale: web.defaultLocale, registration_allowed: web.allowRegistration };
};

const UPTIME_UNITS = [
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
] as const;

/** "2 days, 3 hours": the two largest units, as the health's uptime_seconds reads. */
export function formatUptime(locale: Locale, seconds: number): string {
  const parts: string[] = [];
  let rest = Math.max(0, Math.floor(seconds));
  for (const [unit, size] of UPTIME_UNITS) {
    const value = Math.floor(rest / size);
    rest -= value * size;
    if (value > 0 || (unit === 'second' && parts.length === 0)) {
      parts.push(
        new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long' }).format(value),
      );
    }
    if (parts.length === 2) break;
  }
  return new Intl.ListFormat(locale, { style: 'long', type: 'unit' }).format(parts);
}

const LIMITS: readonly [keyof WebDeps['config']['limits'], MessageKey, 'bytes' | 'count'][] = [
  ['max_json_body', 'adminDiagLimitJsonBody', 'bytes'],
  ['max_push_body', 'adminDiagLimitPushBody', 'bytes'],
  ['max_push_operations', 'adminDiagLimitPushOps', 'count'],
  ['max_payload_json', 'adminDiagLimitPayload', 'bytes'],
  ['max_pull_page', 'adminDiagLimitPullPage', 'count'],
  ['max_blob_bytes', 'adminDiagLimitBlob', 'bytes'],
  ['max_vault_blob_bytes', 'adminDiagLimitVaultBlobs', 'bytes'],
  ['max_user_blob_bytes', 'adminDiagLimitUserBlobs', 'bytes'],
];

export function diagnosticsRoutes(
  app: FastifyInstance,
  deps: WebDeps,
  { signedIn, adminPage }: AdminScope,
) {
  const { db, clock, store, projector, config, dataDir } = deps;
  const build = deps.build ?? readBuildInfo();
  // Registered with the health routes of the same app: the uptimes agree to the millisecond.
  const startedAt = Date.now();
  const health = () =>
    checkHealth({
      db,
      blobDir: deps.blobDir,
      clock,
      build,
      startedAt,
      ...(deps.logOutput ? { logOutput: deps.logOutput } : {}),
      ...(deps.checkpointer ? { checkpointer: deps.checkpointer } : {}),
    });

  const projectionsOf = (t: Translate, locale: Locale, head: number) => {
    const stored = new Map(
      (
        db.prepare('SELECT name, version, position FROM projection_checkpoints').all() as {
          name: string;
          version: number;
          position: number;
        }[]
      ).map((r) => [r.name, r]),
    );
    const n = (v: number) => new Intl.NumberFormat(locale).format(v);
    return projector.projections.map((p) => {
      const cp = stored.get(p.name);
      const rebuild = !cp || cp.version !== p.version;
      const behind = cp ? head - cp.position : head;
      return {
        name: p.name,
        version: n(p.version),
        applied: n(cp?.position ?? 0),
        state: rebuild
          ? t('adminDiagRebuild')
          : behind > 0
            ? t('adminDiagBehind', { count: n(behind) })
            : t('adminDiagCurrent'),
        stateClass: rebuild || behind > 0 ? 'badge-warn' : 'badge-ok',
      };
    });
  };

  app.get('/admin/diagnostics', signedIn, async (request, reply) => {
    const locale = localeOf(request, deps);
    const t = translator(locale);
    const n = (v: number) => new Intl.NumberFormat(locale).format(v);
    const h = health().body;
    const { stats, disk } = await serverFigures({ db, dataDir }, clock.now());
    const head = store.head();
    const ok = h.status === 'ok';
    return adminPage(request, reply, 'admin-diagnostics', 'adminDiagTitle', 'diagnostics', {
      health: {
        ok,
        status: t(ok ? 'adminDiagOk' : 'adminDiagDegraded'),
        database: t(
          !h.database_reachable
            ? 'adminDiagUnreachable'
            : h.database_writable
              ? 'adminDiagReachable'
              : 'adminDiagNotWritable',
        ),
        databaseOk: h.database_writable,
        blobs: t(h.blob_storage_writable ? 'adminDiagWritable' : 'adminDiagNotWritable'),
        blobsOk: h.blob_storage_writable,
        schema: n(h.schema_version),
        logDropped: n(h.log_lines_dropped),
        logDroppedOk: h.log_lines_dropped === 0,
        checkpointFailures: n(h.checkpoint_worker_failures),
        checkpointOk: h.checkpoint_worker_failures === 0,
        serverTimeAt: clock.now().toISOString(),
        serverTime: formatDate(locale, clock.now().toISOString()),
      },
      server: {
        version: h.version,
        commit: h.build_commit,
        uptime: formatUptime(locale, h.uptime_seconds),
      },
      disk: {
        database: formatSize(locale, disk.databaseBytes),
        wal: formatSize(locale, disk.walBytes),
        blobs: formatSize(locale, stats.blobBytes),
        temp: formatSize(locale, disk.tempUploadBytes),
      },
      limits: LIMITS.map(([key, label, kind]) => ({
        key,
        label: t(label),
        value: kind === 'bytes' ? formatSize(locale, config.limits[key]) : n(config.limits[key]),
      })),
      log: {
        head: n(head),
        chainHead: head > 0 ? (store.readRows(head - 1, 1)[0]?.hash ?? '') : '',
      },
      projections: projectionsOf(t, locale, head),
    });
  });

  // FastifyContextConfig declares no jsonErrors: its options are route options all the same.
  const read = adminApi(deps.configuredPublicUrl, { write: false }) as RouteShorthandOptions;

  app.get('/admin/diagnostics.json', read, async (_request, reply) => {
    const figures = await serverFigures({ db, dataDir }, clock.now());
    const { limits } = config;
    reply.header('cache-control', 'no-store');
    return {
      health: health().body,
      stats: statsBody(figures),
      limits: {
        max_json_body: limits.max_json_body,
        max_push_operations: limits.max_push_operations,
        max_pull_page: limits.max_pull_page,
        max_blob_bytes: limits.max_blob_bytes,
      },
      web: webFacts(deps),
    };
  });

  app.get('/admin/api/stats', read, async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    return statsBody(await serverFigures({ db, dataDir }, clock.now()));
  });
}
