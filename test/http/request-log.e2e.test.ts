import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { expectSecurityHeaders } from '../helpers/app.js';
import { openTestRuntime, type TestRuntime } from '../helpers/runtime.js';

// One log line per request at info level (skipped above it), with the request id the
// client saw in x-request-id.

let runtime: TestRuntime | undefined;
afterEach(() => {
  runtime?.close();
  runtime = undefined;
});

async function appLoggingAt(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  runtime = openTestRuntime();
  const app = await buildApp({ ...runtime, logger: createLogger({ level, destination }) });
  app.get('/api/test/boom', async () => {
    throw new Error('boom');
  });
  await app.ready();
  return { app, lines };
}

describe('the request log', () => {
  it('writes one line per request at info level, secrets in the URL redacted', async () => {
    const { app, lines } = await appLoggingAt('info');
    const ok = await app.inject({ method: 'GET', url: '/livez', remoteAddress: '10.1.2.3' });
    const denied = await app.inject({
      method: 'POST',
      url: '/api/v1/sync/pull?api_key=secret-token',
      payload: {},
    });
    await app.close();
    expect(denied.statusCode).toBe(401);
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(2);
    expect(requests[0]).toMatchObject({
      level: 30,
      reqId: ok.headers['x-request-id'],
      method: 'GET',
      url: '/livez',
      status: 200,
      ip: '10.1.2.3',
    });
    expect(typeof requests[0]!.ms).toBe('number');
    expect(requests[1]).toMatchObject({
      reqId: denied.headers['x-request-id'],
      method: 'POST',
      url: '/api/v1/sync/pull?api_key=<redacted>',
      status: 401,
    });
    expect(JSON.stringify(lines)).not.toContain('secret-token');
  });

  it('writes no request lines above info, but still logs failures', async () => {
    const { app, lines } = await appLoggingAt('warn');
    const ok = await app.inject({ method: 'GET', url: '/livez' });
    const failed = await app.inject({ method: 'GET', url: '/api/test/boom' });
    await app.close();
    expect([ok.statusCode, failed.statusCode]).toEqual([200, 500]);
    expectSecurityHeaders(ok.headers);
    expect(lines.filter((l) => l.msg === 'request')).toEqual([]);
    expect(lines.filter((l) => l.msg === 'request failed')).toMatchObject([
      { level: 50, reqId: failed.headers['x-request-id'] },
    ]);
  });
});
