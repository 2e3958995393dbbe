import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { expectSecurityHeaders, useApps } from '../helpers/app.js';

const openApp = useApps();

const testRoutes = (app: FastifyInstance) => {
  app.get('/api/test/boom', async () => {
    throw new Error('secret detail: SELECT * FROM users');
  });
  app.get('/api/test/busy', async () => {
    throw new AppError(503, 'server_busy', 'server busy, try again', { 'retry-after': '1' });
  });
  app.post('/api/test/echo', async (request) => ({
    body: request.body,
    contentType: request.headers['content-type'] ?? null,
  }));
};

const openTestApp = (settings?: Record<string, unknown>) =>
  openApp({ routes: testRoutes, captureLogs: true, settings });

const errorBody = (error: string, code: string) => `${JSON.stringify({ error, code })}\n`;

describe('unknown paths and methods', () => {
  it('answers an unknown API path with the JSON 404', async () => {
    const { app } = await openTestApp();
    const res = await app.inject({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toBe(errorBody('not found', 'not_found'));
    expectSecurityHeaders(res.headers);
  });

  it('answers an unknown page with an HTML 404', async () => {
    const { app } = await openTestApp();
    const res = await app.inject({ method: 'GET', url: '/no/such/page' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/^<!doctype html>/i);
    expectSecurityHeaders(res.headers);
  });

  it.each([
    ['POST', '/livez'],
    ['DELETE', '/api/v1/health'],
    ['PUT', '/readyz'],
  ])('answers %s %s with 405 and an Allow header', async (method, url) => {
    const { app } = await openTestApp();
    const res = await app.inject({ method: method as 'POST', url });
    expect(res.statusCode).toBe(405);
    expect(res.body).toBe(errorBody('method not allowed', 'method_not_allowed'));
    expect(String(res.headers.allow).split(', ').sort()).toEqual(['GET', 'HEAD']);
    expectSecurityHeaders(res.headers);
  });

  it('gives every response its own request id', async () => {
    const { app } = await openTestApp();
    const ids = new Set<unknown>();
    for (let i = 0; i < 5; i++)
      ids.add((await app.inject({ url: '/livez' })).headers['x-request-id']);
    expect(ids.size).toBe(5);
  });
});

describe('error handling', () => {
  it('answers a thrown Error with a generic 500 and logs it with the request id', async () => {
    const { app, logs } = await openTestApp();
    const res = await app.inject({ method: 'GET', url: '/api/test/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.body).toBe(errorBody('internal error', 'internal_error'));
    expect(res.body).not.toMatch(/secret|SELECT|at .*\.ts/);
    expectSecurityHeaders(res.headers);

    const reqId = res.headers['x-request-id'];
    const line = logs.find((l) => l.level === 50);
    expect(line).toBeDefined();
    expect(line).toMatchObject({ reqId, msg: 'request failed' });
    expect((line!.err as { message: string }).message).toContain('secret detail');
  });

  it('answers an AppError with its status, code and headers', async () => {
    const { app, logs } = await openTestApp();
    const res = await app.inject({ method: 'GET', url: '/api/test/busy' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'server busy, try again', code: 'server_busy' });
    expect(res.headers['retry-after']).toBe('1');
    expectSecurityHeaders(res.headers);
    expect(logs.filter((l) => l.level === 50)).toEqual([]);
  });
});

describe('JSON bodies', () => {
  const post = (app: FastifyInstance, payload: string, contentType?: string) =>
    app.inject({
      method: 'POST',
      url: '/api/test/echo',
      payload,
      headers: contentType ? { 'content-type': contentType } : {},
    });

  it.each([
    ['an empty body', ''],
    ['a blank body', ' \n '],
    ['broken JSON', '{bad'],
    ['a __proto__ key', '{"__proto__":{"x":1}}'],
    ['a constructor.prototype key', '{"constructor":{"prototype":{"x":1}}}'],
  ])('refuses %s with 400 invalid_json', async (_name, payload) => {
    const { app } = await openTestApp();
    const res = await post(app, payload, 'application/json');
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('invalid_json');
    expectSecurityHeaders(res.headers);
  });

  it.each(['{"a":1} {}', '[1]2', '{"a":1}x'])(
    'refuses trailing data after one value (%s) with 400 trailing_json',
    async (payload) => {
      const { app } = await openTestApp();
      const res = await post(app, payload, 'application/json');
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'request body must contain a single JSON value',
        code: 'trailing_json',
      });
    },
  );

  it('accepts whitespace around the one value', async () => {
    const { app } = await openTestApp();
    const res = await post(app, ' \n{"a":1}\n ', 'application/json');
    expect(res.statusCode).toBe(200);
    expect(res.json().body).toEqual({ a: 1 });
  });

  it.each([undefined, 'text/plain', 'application/octet-stream'])(
    'reads the body as JSON whatever the content type (%s)',
    async (contentType) => {
      const { app } = await openTestApp();
      const res = await post(app, '{"a":[1,"two"]}', contentType);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ body: { a: [1, 'two'] }, contentType: contentType ?? null });
    },
  );

  it('refuses a body over max_json_body with 413 request_too_large', async () => {
    const { app } = await openTestApp({ limits: { max_json_body: 64 } });
    const fits = await post(app, JSON.stringify({ s: 'x'.repeat(40) }), 'application/json');
    expect(fits.statusCode).toBe(200);
    const res = await post(app, JSON.stringify({ s: 'x'.repeat(100) }));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({ error: 'request body too large', code: 'request_too_large' });
    expectSecurityHeaders(res.headers);
  });
});
