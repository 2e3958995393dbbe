import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterEach, expect } from 'vitest';
import { ConfigSchema, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { openTestRuntime, type TestRuntime, type TestRuntimeOptions } from './runtime.js';

export interface TestApp {
  readonly app: FastifyInstance;
  readonly runtime: TestRuntime;
  /** Parsed JSON log lines written so far (only with `captureLogs`). */
  readonly logs: Record<string, unknown>[];
}

export interface TestAppOptions extends TestRuntimeOptions {
  /** Partial config.yml content, validated by the real schema. */
  readonly settings?: Record<string, unknown>;
  readonly captureLogs?: boolean;
  /** Extra routes, registered before the app is ready (as a later plugin would). */
  readonly routes?: (app: FastifyInstance) => void;
}

/** A pino logger writing JSON lines into memory. */
export function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

/** Builds apps over temp runtimes and closes both after each test. */
export function useApps() {
  let open: TestApp[] = [];
  afterEach(async () => {
    const closing = open;
    open = [];
    for (const { app, runtime } of closing) {
      await app.close();
      runtime.close();
    }
  });
  return async ({ settings, captureLogs, routes, ...runtimeOptions }: TestAppOptions = {}) => {
    const config: Config = ConfigSchema.parse(settings ?? {});
    const runtime = openTestRuntime({ config, ...runtimeOptions });
    const memory = captureLogs ? memoryLogger() : undefined;
    const app = await buildApp({ ...runtime, logger: memory?.logger ?? false });
    const testApp = { app, runtime, logs: memory?.lines ?? [] };
    open.push(testApp);
    routes?.(app);
    await app.ready();
    return testApp;
  };
}

/** CONTRACT.md §2: the headers every response carries, API and HTML, success or failure. */
export function expectSecurityHeaders(headers: Record<string, unknown>): void {
  const csp = headers['content-security-policy'];
  expect(typeof csp).toBe('string');
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('same-origin');
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['x-request-id']).toMatch(/^[0-9a-f]{16}$/);
  expect(headers).not.toHaveProperty('x-powered-by');
}
