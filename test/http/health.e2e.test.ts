import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LOG_FORMAT_VERSION } from '../../src/log/index.js';
import { expectSecurityHeaders, useApps } from '../helpers/app.js';

const openApp = useApps();

const HEALTH_FIELDS = [
  'blob_storage_writable',
  'build_commit',
  'checkpoint_worker_failures',
  'database_reachable',
  'database_writable',
  'degraded_reasons',
  'log_epoch',
  'log_lines_dropped',
  'schema_version',
  'server_time',
  'status',
  'uptime_seconds',
  'version',
];

// RFC 3339, UTC, second precision (CONTRACT.md §2).
const SECOND_PRECISION_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe.each(['/api/v1/health', '/readyz'])('GET %s', (url) => {
  it('answers 200 with exactly the contract fields when all is well', async () => {
    const { app } = await openApp();
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(HEALTH_FIELDS);
    expect(body).toMatchObject({
      status: 'ok',
      version: 'dev',
      build_commit: 'unknown',
      database_reachable: true,
      blob_storage_writable: true,
      schema_version: LOG_FORMAT_VERSION,
      server_time: '2026-07-10T12:00:00Z',
    });
    expect(body.server_time).toMatch(SECOND_PRECISION_UTC);
    expect(Number.isInteger(body.uptime_seconds) && body.uptime_seconds >= 0).toBe(true);
    expectSecurityHeaders(res.headers);
  });

  it('drops the milliseconds of the server time', async () => {
    const { app, runtime } = await openApp();
    runtime.clock.set('2026-07-10T12:34:56.789Z');
    const res = await app.inject({ method: 'GET', url });
    expect(res.json().server_time).toBe('2026-07-10T12:34:56Z');
  });

  it('answers 503 degraded when the database is closed', async () => {
    const { app, runtime } = await openApp();
    runtime.db.close();
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      status: 'degraded',
      database_reachable: false,
      blob_storage_writable: true,
    });
    expect(Object.keys(res.json()).sort()).toEqual(HEALTH_FIELDS);
    expectSecurityHeaders(res.headers);
  });

  it('answers 503 degraded while the blob directory cannot be written, 200 once it can', async () => {
    const { app, runtime } = await openApp();
    // Tests run as root, where a chmod does not stop writes: a file in the directory's
    // place does.
    rmSync(runtime.blobDir, { recursive: true });
    writeFileSync(runtime.blobDir, 'not a directory');
    const res = await app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      status: 'degraded',
      database_reachable: true,
      blob_storage_writable: false,
    });
    expectSecurityHeaders(res.headers);

    rmSync(runtime.blobDir);
    mkdirSync(runtime.blobDir);
    const healed = await app.inject({ method: 'GET', url });
    expect(healed.statusCode).toBe(200);
    expect(healed.json()).toMatchObject({ status: 'ok', blob_storage_writable: true });
  });
});

describe('health endpoints', () => {
  it('gives /readyz the same body as /api/v1/health', async () => {
    const { app } = await openApp();
    const health = await app.inject({ method: 'GET', url: '/api/v1/health' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(health.statusCode);
    expect(ready.json()).toEqual(health.json());
  });

  it('answers /livez 200 with only status and server time, even when degraded', async () => {
    const { app, runtime } = await openApp();
    const res = await app.inject({ method: 'GET', url: '/livez' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toStrictEqual({ status: 'ok', server_time: '2026-07-10T12:00:00Z' });
    expectSecurityHeaders(res.headers);

    runtime.db.close();
    const stillAlive = await app.inject({ method: 'GET', url: '/livez' });
    expect(stillAlive.statusCode).toBe(200);
  });

  it('leaves no probe files behind in the blob directory', async () => {
    const { app, runtime } = await openApp();
    await app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(readdirSync(runtime.blobDir)).toEqual([]);
  });
});
