import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';

type Prom = typeof PromClient;

/** Seconds; pulls and pushes answer in milliseconds, a long-poll up to 30 s, a stream for hours. */
const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** Figures only some routes' answers tell, kept as plain numbers and read at scrape time. */
export interface RouteCounts {
  /** Pushes answered with an error (validation, quota, conflict of keys, ...). */
  refusedPushes: number;
  /** Pull pages answered (a long-poll that waited is one page). */
  pulledPages: number;
  /** Bytes of blob downloads answered (Content-Length of 200 and 206 answers to GET). */
  blobBytesOut: number;
}

const PUSH = 'POST /api/v1/sync/push';
const PULL = 'POST /api/v1/sync/pull';
const BLOB_GET = 'GET /api/v1/blobs/:sha256';

interface Observer {
  observe(seconds: number): void;
}

/**
 * The request-duration histogram. The route label is the route's pattern (never the URL a
 * client sent: that would make a series per blob and per probe); answers that matched no
 * route share `unmatched`. Each (route, status) child is made once and kept.
 */
export function createRequestRecorder(prom: Prom, registry: Registry) {
  const histogram = new prom.Histogram({
    name: 'verstak_http_request_duration_seconds',
    help: 'Time from request to answer, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const counts: RouteCounts = { refusedPushes: 0, pulledPages: 0, blobBytesOut: 0 };
  const children = new Map<string, Map<number, Observer>>();

  const childOf = (key: string, method: string, route: string, status: number): Observer => {
    let byStatus = children.get(key);
    if (!byStatus) children.set(key, (byStatus = new Map<number, Observer>()));
    let child = byStatus.get(status);
    if (!child) {
      child = histogram.labels(method, route, String(status));
      byStatus.set(status, child);
    }
    return child;
  };

  const tally = (key: string, status: number, reply: FastifyReply) => {
    if (key === PUSH) {
      if (status >= 400) counts.refusedPushes += 1;
    } else if (key === PULL) {
      if (status === 200) counts.pulledPages += 1;
    } else if (key === BLOB_GET && (status === 200 || status === 206)) {
      counts.blobBytesOut += Number(reply.getHeader('content-length')) || 0;
    }
  };

  const onResponse = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const method = request.method;
    const key = `${method} ${route}`;
    const status = reply.statusCode;
    childOf(key, method, route, status).observe(reply.elapsedTime / 1000);
    tally(key, status, reply);
    done();
  };

  return {
    counts: counts as Readonly<RouteCounts>,
    attach: (app: FastifyInstance): void => {
      // A callback hook: an async one costs a promise and a microtask turn per request.
      app.addHook('onResponse', onResponse);
    },
  };
}
