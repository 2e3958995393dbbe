import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Command } from 'commander';
import { startCleanupSchedule } from '../commands/cleanup-schedule.js';
import { buildApp } from '../http/app.js';
import { capYoungGeneration, setServerHeapFlags } from '../heap-flags.js';
import { createIdleReclaimer, SERVER_SQLITE_CACHE_KIB } from '../idle-memory.js';
import { createLogger } from '../logger.js';
import { createLogSink } from '../logger-sink.js';
import { createMailer } from '../mail/mailer.js';
import { createMallocTrim } from '../malloc-trim.js';
import { startMetricsListener, type MetricsListener } from '../metrics/exposure.js';
import { createMetrics } from '../metrics/metrics.js';
import { checkDatabaseAtStartup } from '../log/startup-check.js';
import { runningReplays } from '../projections/scratch-files.js';
import { removeReplayLeftovers } from '../projections/staged-swap.js';
import { databaseFileOf, openRuntime } from '../runtime.js';
import { createPasswordHasher } from '../security/passwords.js';
import { upsertAdmin } from './admin-account.js';
import {
  dataDirOf,
  parseListen,
  readSecretFile,
  readSecretStdin,
  resolveListen,
} from './options.js';
import { stderrProgress } from './progress.js';
import { addSmtpFlags, applyStartupMailSettings, type SmtpFlags } from './smtp-options.js';
import { removeLeftovers } from './startup-cleanup.js';

interface ServeOptions extends SmtpFlags {
  port?: string;
  listen?: string;
  data?: string;
  adminUser?: string;
  adminPassFile?: string;
  adminPassStdin?: boolean;
  adminPass?: string;
  metricsListen?: string;
}

async function adminPassword(opts: ServeOptions): Promise<string | undefined> {
  if (opts.adminPassFile) return readSecretFile(opts.adminPassFile);
  if (opts.adminPassStdin) return readSecretStdin();
  if (opts.adminPass !== undefined) {
    process.stderr.write(
      'warning: --admin-pass puts the password on the command line, where other local users can read it; use --admin-pass-file or --admin-pass-stdin\n',
    );
    return opts.adminPass;
  }
  return undefined;
}

export async function serve(opts: ServeOptions): Promise<void> {
  const dataDir = dataDirOf(opts);
  // Never blocks or throws: a full disk under stdout costs log lines, not the service.
  const logOutput = createLogSink(1);
  const logger = createLogger({
    level: process.env.VERSTAK_LOG_LEVEL ?? 'info',
    destination: logOutput,
  });
  // Before anything writes to the data directory (the admin's config, migrations, projection
  // catch-up): a damaged database must not serve, and a refused start leaves it as found.
  const checked = checkDatabaseAtStartup(databaseFileOf(dataDir), dataDir);
  const leftovers = removeLeftovers(dataDir);
  const hasher = createPasswordHasher();
  if (opts.adminUser) {
    const password = await adminPassword(opts);
    if (password === undefined) {
      throw new Error('--admin-user needs --admin-pass-file or --admin-pass-stdin');
    }
    const outcome = await upsertAdmin(dataDir, opts.adminUser, password, hasher);
    logger.info({ admin: opts.adminUser }, `admin account ${outcome}`);
  }
  const runtime = openRuntime({
    dataDir,
    hasher,
    onRebuildProgress: stderrProgress('rebuilding projections'),
    // Pushes commit on the event loop; checkpoints no longer run inside those commits.
    checkpointer: {
      onWorkerOnline: setServerHeapFlags,
      onError: (err) =>
        logger.error(
          { err },
          'WAL checkpoint worker failed; commits checkpoint the WAL themselves until it is started again',
        ),
    },
  });
  // A killed replay's replay_new_*/replay_old_* tables (staged-swap.ts), as large as the
  // tables they copy. A running replay owns them: kept then, and it drops them itself. One
  // that starts after this look stages only once its rebuild is done; should a drop here
  // still meet its table, its swap fails on the check of the staged tables, changing nothing.
  const replayTables =
    runningReplays(join(dataDir, 'tmp')).length === 0 ? removeReplayLeftovers(runtime.db) : 0;
  logger.info(
    { head: checked.head, checked: checked.checked, leftovers: { ...leftovers, replayTables } },
    'start-up check passed',
  );
  // Once the start-up work is done: the serving connection's page cache (see idle-memory.ts).
  runtime.db.pragma(`cache_size = -${SERVER_SQLITE_CACHE_KIB}`);
  applyStartupMailSettings(runtime, opts, process.env, logger);
  if (runtime.config.admin.length === 0) {
    logger.warn(
      'no admin account yet: restart with --admin-user NAME --admin-pass-file FILE to create one',
    );
  }
  // README, "Metrics": a listener of their own, or the public one behind a token, or none.
  const metricsAt =
    opts.metricsListen ?? process.env.VERSTAK_METRICS_LISTEN ?? runtime.config.metrics.listen;
  let metricsAddress: ReturnType<typeof parseListen> | undefined;
  try {
    metricsAddress = metricsAt ? parseMetricsListen(metricsAt) : undefined;
  } catch (err) {
    runtime.close();
    throw err;
  }
  const metrics =
    metricsAddress || runtime.config.metrics.token ? await createMetrics(runtime) : undefined;
  const app = await buildApp({ ...runtime, logger, logOutput, ...(metrics ? { metrics } : {}) });
  // Requests being handled; connections without one (idle, or still sending headers) are
  // cut at shutdown instead of holding it for the whole drain time.
  let inFlight = 0;
  const trimMalloc = createMallocTrim();
  const reclaimer = createIdleReclaimer({
    release: () => {
      // The serving connection's page cache: refilled from the OS's file cache when needed.
      runtime.db.pragma('shrink_memory');
      trimMalloc?.();
    },
  });
  app.addHook('onRequest', async (_request, reply) => {
    reclaimer.activity();
    inFlight += 1;
    reply.raw.once('close', () => (inFlight -= 1));
  });
  const address = resolveListen({ ...opts, configured: runtime.config.listen });
  await app.listen({ host: address.host, port: address.port });
  const { port } = app.server.address() as AddressInfo;
  runtime.useListenAddress(
    `${address.host.includes(':') ? `[${address.host}]` : address.host}:${port}`,
  );
  if (!runtime.configuredPublicUrl()) {
    logger.warn(
      { mailLinks: runtime.publicUrl() },
      'no public URL set: links in mails point at the address this server listens on; set the address users reach in the admin console (Settings) or public_url in config.yml',
    );
  }
  let metricsListener: MetricsListener | undefined;
  if (metrics && metricsAddress) {
    try {
      metricsListener = await startMetricsListener(
        metrics,
        metricsAddress,
        runtime.config.metrics.token,
      );
    } catch (err) {
      await app.close();
      runtime.close();
      throw new Error(`cannot serve metrics on ${metricsAt}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    logger.info({ address: metricsListener.address }, 'metrics listening');
  }
  // Started: from here on the young generation may grow to its cap (see heap-flags.ts).
  capYoungGeneration();
  // Slowloris guard: a client must finish its headers within this time.
  app.server.headersTimeout = runtime.config.timeouts.headers_ms;
  const mailer = createMailer(runtime, logger);
  metrics?.watchMailer(mailer);
  mailer.start();
  const retention = startCleanupSchedule({
    cleanup: runtime.cleanup,
    clock: runtime.clock,
    intervalMs: runtime.config.retention.cleanup_interval_hours * 3_600_000,
    onReport: (report) => logger.info({ cleanup: report }, 'retention cleanup ran'),
    onError: (err) => logger.error({ err }, 'retention cleanup failed'),
  });
  // Summaries of refused attempts whose window has closed; close() writes the open ones.
  const refusalFlush = setInterval(() => {
    try {
      runtime.refusals.flushClosed();
    } catch (err) {
      logger.error({ err }, 'recording refused attempts failed');
    }
  }, 30_000);
  refusalFlush.unref();
  // What loading the modules and the start-up checks left behind, before the server idles.
  reclaimer.collect();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(
      () => app.server.closeAllConnections(),
      runtime.config.timeouts.shutdown_ms,
    );
    force.unref();
    const drained = setInterval(() => {
      if (inFlight === 0) app.server.closeAllConnections();
    }, 100);
    drained.unref();
    try {
      await app.close();
      await metricsListener?.close();
      metrics?.close();
      await mailer.stop();
      await retention.stop();
    } finally {
      clearInterval(refusalFlush);
      reclaimer.stop();
      runtime.close();
      logger.info('stopped');
      logOutput.flushSync();
      process.exit(0);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

function parseMetricsListen(value: string) {
  try {
    return parseListen(value);
  } catch (err) {
    throw new Error(
      `metrics listen address (--metrics-listen, VERSTAK_METRICS_LISTEN or metrics.listen in config.yml): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export const serveCommand = new Command('serve')
  .description('run the sync server (the default command)')
  .option('--port <port>', 'port on 127.0.0.1 (env VERSTAK_PORT, default 47732)')
  .option('--listen <host:port>', 'listen address (env VERSTAK_LISTEN, default 127.0.0.1:<port>)')
  .option('--data <dir>', 'data directory', './server-data')
  .option('--admin-user <name>', 'create or update this admin of the web console')
  .option('--admin-pass-file <file>', "read the admin's password from a file")
  .option('--admin-pass-stdin', "read the admin's password from standard input")
  .option(
    '--admin-pass <password>',
    'admin password on the command line (visible to other users; avoid)',
  )
  .option(
    '--metrics-listen <host:port>',
    'serve GET /metrics on this address of its own (env VERSTAK_METRICS_LISTEN; config metrics.listen)',
  )
  .action(serve);

addSmtpFlags(serveCommand);
