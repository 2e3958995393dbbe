import { randomBytes } from 'node:crypto';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../clock.js';
import { readEpoch, readSchemaVersion, type Sqlite } from '../../log/index.js';
import type { BuildInfo } from '../../version.js';
import { wireTime } from '../body.js';

export interface HealthDeps {
  readonly db: Sqlite;
  readonly blobDir: string;
  readonly clock: Clock;
  readonly build: BuildInfo;
  readonly startedAt: number;
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

function probeBlobDir(blobDir: string): boolean {
  const probe = join(blobDir, `.probe-${randomBytes(6).toString('hex')}`);
  try {
    writeFileSync(probe, '');
    unlinkSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** CONTRACT.md §8: the health answer; the admin diagnostics show the same. */
export function checkHealth(deps: HealthDeps) {
  const database = probeDatabase(deps.db);
  const blobs = probeBlobDir(deps.blobDir);
  const ok = database.ok && blobs;
  return {
    status: ok ? 'ok' : 'degraded',
    httpStatus: ok ? 200 : 503,
    body: {
      status: ok ? 'ok' : 'degraded',
      version: deps.build.version,
      build_commit: deps.build.buildCommit,
      uptime_seconds: Math.floor((Date.now() - deps.startedAt) / 1000),
      database_reachable: database.ok,
      blob_storage_writable: blobs,
      schema_version: database.schemaVersion,
      // Changes when the server is restored from a backup (RELIABILITY.md §1.11).
      log_epoch: database.epoch,
      server_time: serverTime(deps.clock),
    },
  };
}

export async function healthRoutes(app: FastifyInstance, deps: HealthDeps) {
  for (const url of ['/api/v1/health', '/readyz']) {
    app.get(url, async (_request, reply) => {
      const result = checkHealth(deps);
      return reply.code(result.httpStatus).send(result.body);
    });
  }
  app.get('/livez', async () => ({ status: 'ok', server_time: serverTime(deps.clock) }));
}
