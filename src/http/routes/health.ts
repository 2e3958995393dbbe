import { randomBytes } from 'node:crypto';
import { unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { readEpoch, readSchemaVersion, type Sqlite } from '../../log/index.js';
import type { LogSinkStats } from '../../logger-sink.js';
import type { BuildInfo } from '../../version.js';
import { wireTime } from '../body.js';
import { refusals } from '../openapi/answers.js';

export interface HealthDeps {
  readonly db: Sqlite;
  readonly blobDir: string;
  readonly clock: Clock;
  readonly build: BuildInfo;
  readonly startedAt: number;
  /** The log output's losses (serve's sink); absent where nothing logs to a file descriptor. */
  readonly logOutput?: { stats(): LogSinkStats };
  /** The WAL checkpoint worker (serve's); absent in processes that run none. */
  readonly checkpointer?: { stats(): { failures: number } };
}

const serverTime = (clock: Clock) => wireTime(clock.now().toISOString());

function probeDatabase(db: Sqlite): { ok: boolean; schemaVersion: number; epoch: string } {
  try {
    db.prepare('SELECT 1').get();
    return { ok: true, schemaVersion: readSchemaVersion(db), epoch: readEpoch(db) };
  } catch {
    return { ok: false, schemaVersion: 0, epoch: '' };
  }
}

// A block, not an empty file: on a full disk an empty file still gets created (it needs an
// inode only), and health said ok while every write failed.
const PROBE = Buffer.alloc(4096);

/** Whether the filesystem under `dir` takes a block now (written, then removed). */
function probeWritable(dir: string): boolean {
  const probe = join(dir, `.probe-${randomBytes(6).toString('hex')}`);
  try {
    writeFileSync(probe, PROBE);
    return true;
  } catch {
    return false;
  } finally {
    try {
      unlinkSync(probe);
    } catch {
      // Never created.
    }
  }
}

/** CONTRACT.md §8: the health answer; the admin diagnostics show the same. */
export function checkHealth(deps: HealthDeps) {
  const database = probeDatabase(deps.db);
  // The database's filesystem: a commit that cannot grow the WAL fails (507 storage_full).
  const databaseWritable = database.ok && (deps.db.memory || probeWritable(dirname(deps.db.name)));
  const blobs = probeWritable(deps.blobDir);
  const reasons = [
    ...(database.ok ? [] : ['database_unreachable']),
    ...(database.ok && !databaseWritable ? ['database_storage_full_or_read_only'] : []),
    ...(blobs ? [] : ['blob_storage_full_or_read_only']),
  ];
  const ok = reasons.length === 0;
  return {
    status: ok ? 'ok' : 'degraded',
    httpStatus: ok ? (200 as const) : (503 as const),
    body: {
      status: ok ? 'ok' : 'degraded',
      version: deps.build.version,
      build_commit: deps.build.buildCommit,
      uptime_seconds: Math.floor((Date.now() - deps.startedAt) / 1000),
      database_reachable: database.ok,
      database_writable: databaseWritable,
      blob_storage_writable: blobs,
      degraded_reasons: reasons,
      // Lines the log output refused (a full disk under stdout): dropped so serving goes on.
      log_lines_dropped: deps.logOutput?.stats().droppedLines ?? 0,
      // Failures of the WAL checkpoint worker (each is started again after a backoff).
      checkpoint_worker_failures: deps.checkpointer?.stats().failures ?? 0,
      schema_version: database.schemaVersion,
      // Changes when the server is restored from a backup (RELIABILITY.md §1.11).
      log_epoch: database.epoch,
      server_time: serverTime(deps.clock),
    },
  };
}

const HealthAnswer = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  build_commit: z.string(),
  uptime_seconds: z.number().int(),
  database_reachable: z.boolean(),
  database_writable: z.boolean(),
  blob_storage_writable: z.boolean(),
  degraded_reasons: z.array(z.string()),
  log_lines_dropped: z.number().int(),
  checkpoint_worker_failures: z.number().int(),
  schema_version: z.number().int(),
  log_epoch: z.string().describe('Changes when the server is restored from a backup'),
  server_time: z.string(),
});
const LiveAnswer = z.object({ status: z.literal('ok'), server_time: z.string() });

export async function healthRoutes(app: FastifyInstance, deps: HealthDeps) {
  const healthSchema = {
    summary: 'Health: the database and blob storage checked',
    response: {
      200: HealthAnswer.describe('Healthy'),
      503: HealthAnswer.describe(
        'Degraded: the failing checks are false, named in degraded_reasons',
      ),
      ...refusals({}),
    },
  };
  for (const url of ['/api/v1/health', '/readyz']) {
    app.get(url, { schema: healthSchema }, async (_request, reply) => {
      const result = checkHealth(deps);
      return reply.code(result.httpStatus).send(result.body);
    });
  }
  const liveSchema = {
    summary: 'Liveness: answers while the process serves, no checks',
    response: { 200: LiveAnswer, ...refusals({}) },
  };
  app.get('/livez', { schema: liveSchema }, async () => ({
    status: 'ok',
    server_time: serverTime(deps.clock),
  }));
}
