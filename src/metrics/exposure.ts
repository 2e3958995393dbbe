import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import type { Metrics } from './metrics.js';

export const METRICS_PATH = '/metrics';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Whether an Authorization header carries the token: digests of equal length compared in
 * constant time, so the answer's timing says nothing about how much of a guess was right.
 */
export function createTokenCheck(token: string) {
  const expected = digest(`Bearer ${token}`);
  return (header: string | undefined) =>
    header !== undefined && timingSafeEqual(digest(header), expected);
}

const unauthorized = () =>
  new AppError(401, 'unauthorized', 'metrics need the bearer token of config.yml metrics.token', {
    'www-authenticate': 'Bearer realm="metrics"',
  });

/** GET /metrics on the public listener, behind the configured bearer token. */
export function metricsRoute(app: FastifyInstance, metrics: Metrics, token: string): void {
  const authorized = createTokenCheck(token);
  app.get(METRICS_PATH, { exposeHeadRoute: false }, async (request, reply) => {
    if (!authorized(request.headers.authorization)) throw unauthorized();
    const text = await metrics.render();
    return reply.header('cache-control', 'no-store').type(metrics.contentType).send(text);
  });
}

function sendError(res: ServerResponse, status: number, code: string, error: string) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(`${JSON.stringify({ error, code })}\n`);
}

export interface MetricsListener {
  readonly address: string;
  close(): Promise<void>;
}

/**
 * The separate listener: `/metrics` and nothing else, on an address the operator keeps
 * private (loopback, a monitoring network). It needs the token too when one is configured.
 */
export async function startMetricsListener(
  metrics: Metrics,
  address: { host: string; port: number },
  token?: string,
): Promise<MetricsListener> {
  const authorized = token ? createTokenCheck(token) : () => true;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== METRICS_PATH) return sendError(res, 404, 'not_found', 'not found');
    if (req.method !== 'GET') {
      res.setHeader('allow', 'GET');
      return sendError(res, 405, 'method_not_allowed', 'method not allowed');
    }
    if (!authorized(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="metrics"');
      return sendError(res, 401, 'unauthorized', 'metrics need the bearer token');
    }
    metrics.render().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        res.end(text);
      },
      () => sendError(res, 500, 'internal_error', 'internal error'),
    );
  };
  const server: Server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `${address.host.includes(':') ? `[${address.host}]` : address.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
