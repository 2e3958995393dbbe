import type { ServerOptions } from 'node:http';
import type { Config } from '../config.js';

/** How late past its bound a slow client may be cut: Node only looks on an interval. */
const MAX_CHECK_INTERVAL_MS = 1_000;
const MIN_CHECK_INTERVAL_MS = 50;

/**
 * Options for Node's `http.createServer`, given to fastify as its `http` option.
 *
 * Node does not time headers or requests per socket: it walks the connections on
 * `connectionsCheckingInterval` (30 s by default), fixed when the server is created, so
 * a slow-header client was cut anywhere between `headers_ms` and `headers_ms` + 30 s.
 * Checking every quarter of the bound (at most every second) keeps the cut within a
 * second of the configured value; the walk only visits connections with a request still
 * incomplete, so it costs little.
 *
 * A headers timeout above the request timeout would never fire first, and Node refuses
 * one at creation, so it is capped at the request timeout.
 */
export function httpServerOptions(
  timeouts: Pick<Config['timeouts'], 'headers_ms' | 'request_ms'>,
): ServerOptions {
  const headersTimeout = Math.min(timeouts.headers_ms, timeouts.request_ms);
  const interval = Math.round(headersTimeout / 4);
  return {
    headersTimeout,
    requestTimeout: timeouts.request_ms,
    connectionsCheckingInterval: Math.max(
      MIN_CHECK_INTERVAL_MS,
      Math.min(MAX_CHECK_INTERVAL_MS, interval),
    ),
  };
}
