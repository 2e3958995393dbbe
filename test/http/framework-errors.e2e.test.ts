import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { expectSecurityHeaders, useApps } from '../helpers/app.js';
import { exchange, parseResponses, rawRequest, type RawResponse } from './raw-http.js';

// issue 12, "Edges of the HTTP layer": the answers fastify's router and Node's HTTP parser
// write on their own (bad percent-encoding, over-long URLs and headers, malformed request
// lines) echoed the URL, carried FST_* codes and lacked the security headers and the
// request id. Over a real listener: inject() cannot send bytes the parser refuses.

const openApp = useApps();

async function listening(settings: Record<string, unknown> = {}) {
  const { app, logs } = await openApp({ settings, captureLogs: true });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: (app.server.address() as AddressInfo).port, logs };
}

const get = (target: string, extra = '') =>
  `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}Connection: close\r\n\r\n`;

const LONG = 'x'.repeat(20_000);
const LONG_PARAM = 'a'.repeat(300);

// [what, request bytes, status, code, a piece of the request the answer must not repeat]
const CASES: [string, string, number, string, string][] = [
  [
    'bad percent-encoding in a path parameter',
    get('/api/v1/blobs/%zz'),
    400,
    'invalid_request',
    '%zz',
  ],
  [
    'bad percent-encoding in an API path',
    get('/api/v1/health%E0%A4%A'),
    400,
    'invalid_request',
    '%E0%A4%A',
  ],
  ['bad percent-encoding in a page path', get('/dash%zzboard'), 400, 'invalid_request', 'dash'],
  [
    'a path parameter over its length',
    get(`/api/v1/blobs/${LONG_PARAM}`),
    414,
    'uri_too_long',
    LONG_PARAM.slice(0, 40),
  ],
  [
    'a URL over the header limit',
    get(`/api/v1/health?q=${LONG}`),
    414,
    'uri_too_long',
    LONG.slice(0, 40),
  ],
  [
    'headers over the limit',
    get('/api/v1/health', `X-Big: ${LONG}\r\n`),
    431,
    'request_header_too_large',
    LONG.slice(0, 40),
  ],
  [
    'a malformed request line',
    'GET /a b/c HTTP/1.1\r\nHost: localhost\r\n\r\n',
    400,
    'invalid_request',
    '/a b/c',
  ],
  [
    'an unknown HTTP version',
    'GET /livez HTTP/7.3\r\nHost: localhost\r\n\r\n',
    400,
    'invalid_request',
    'livez',
  ],
  [
    'no HTTP at all',
    '\u0016\u0003\u0001\u0000\u00a5\u0001\u0000\u0000\u00a1\u0003\u0003\r\n\r\n',
    400,
    'invalid_request',
    '\u0016',
  ],
  [
    'a header without a colon',
    get('/livez', 'Broken header line\r\n'),
    400,
    'invalid_request',
    'Broken',
  ],
];

function expectContractAnswer(res: RawResponse, status: number, code: string, echo: string) {
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(res.body) as unknown;
  expect(body).toEqual({ error: expect.any(String), code });
  expect(res.body.endsWith('\n')).toBe(true);
  expect(res.body).not.toContain(echo);
  expect(res.body).not.toMatch(/FST_|statusCode/);
  expectSecurityHeaders(res.headers);
  expect(res.headers['cache-control']).toBe('no-store');
}

describe("fastify's and Node's own refusals", () => {
  it.each(CASES)(
    'answer %s in the contract shape, with the usual headers',
    async (_what, request, status, code, echo) => {
      const { port } = await listening();
      const res = await rawRequest(port, request);
      expectContractAnswer(res, status, code, echo);
      expect(res.headers).not.toHaveProperty('strict-transport-security');
    },
  );

  it.each(CASES)(
    'carry Strict-Transport-Security when the public URL is https (%s)',
    async (_what, request, status) => {
      const { port } = await listening({ public_url: 'https://sync.example.test' });
      const res = await rawRequest(port, request);
      expect(res.status).toBe(status);
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
    },
  );

  it('give each refusal its own request id, the one its log line names', async () => {
    const { port, logs } = await listening();
    const parser = await rawRequest(port, get('/api/v1/health', `X-Big: ${LONG}\r\n`));
    const router = await rawRequest(port, get('/api/v1/blobs/%zz?token=s3cret'));
    const ids = [parser.headers['x-request-id'], router.headers['x-request-id']];
    expect(new Set(ids).size).toBe(2);
    expect(logs.find((l) => l.reqId === ids[0])).toMatchObject({ status: 431 });
    expect(logs.find((l) => l.reqId === ids[1])).toMatchObject({
      msg: 'request',
      status: 400,
      url: '/api/v1/blobs/%zz?token=<redacted>',
    });
    expect(JSON.stringify(logs)).not.toContain('s3cret');
  });

  it('leave the answer already given on a kept-alive connection intact', async () => {
    const { port } = await listening();
    const bytes = await exchange(port, [
      'GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\nGET /a b HTTP/1.1\r\nHost: localhost\r\n\r\n',
    ]);
    const [first, second, ...more] = parseResponses(bytes);
    expect(more).toEqual([]);
    expect(first!.status).toBe(200);
    expectContractAnswer(second!, 400, 'invalid_request', '/a b');
  });

  it('keep the server answering afterwards', async () => {
    const { port } = await listening();
    for (const [, request] of CASES) await rawRequest(port, request);
    const res = await fetch(`http://127.0.0.1:${port}/livez`);
    expect(res.status).toBe(200);
  });
});

describe('an over-long URL arriving in pieces', () => {
  it('is still refused in the contract shape (414, or 431 when the pieces hide it)', async () => {
    const { port } = await listening();
    const half = 'y'.repeat(10_000);
    const bytes = await exchange(port, [`GET /${half}`, `${half} HTTP/1.1\r\nHost: x\r\n\r\n`]);
    const [res] = parseResponses(bytes);
    expect([414, 431]).toContain(res!.status);
    expect(JSON.parse(res!.body)).toEqual({
      error: expect.any(String),
      code: res!.status === 414 ? 'uri_too_long' : 'request_header_too_large',
    });
    expectSecurityHeaders(res!.headers);
  });
});

describe('a request not received in time', () => {
  // Node checks its request timeouts on an interval (30 s unless told otherwise): short
  // ones here, as serve would configure them, so the test sees the answer promptly.
  async function listeningWithShortTimeouts() {
    const { app } = await openApp({ settings: { public_url: 'https://sync.example.test' } });
    Object.assign(app.server, {
      connectionsCheckingInterval: 100,
      headersTimeout: 300,
      requestTimeout: 600,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    return (app.server.address() as AddressInfo).port;
  }

  it.each([
    ['headers that never end', ['GET /livez HTTP/1.1\r\nHost: localhost\r\n']],
    [
      'a body that never ends',
      [
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
          'Content-Length: 100\r\n\r\n{"user',
      ],
    ],
  ])('is answered 408 request_timeout in the contract shape (%s)', async (_what, chunks) => {
    const port = await listeningWithShortTimeouts();
    const [res, ...more] = parseResponses(await exchange(port, chunks, 10_000));
    expect(more).toEqual([]);
    expectContractAnswer(res!, 408, 'request_timeout', 'user');
    expect(res!.headers['strict-transport-security']).toBe('max-age=31536000');
  });
});
