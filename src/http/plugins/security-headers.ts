import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';

// CONTRACT.md §2: the same set on every response, API and HTML alike.
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; img-src 'self' data:; script-src 'self'; style-src 'self'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

export interface SecurityHeadersOptions {
  /** The Strict-Transport-Security value, or undefined when the public URL is not https. */
  readonly strictTransport?: () => string | undefined;
}

/**
 * The headers every answer carries, also those written outside the request lifecycle
 * (fastify's framework errors, see framework-errors.ts).
 */
export function applySecurityHeaders(
  reply: FastifyReply,
  requestId: string,
  strictTransport: string | undefined,
): void {
  reply.headers(SECURITY_HEADERS);
  reply.header('x-request-id', requestId);
  if (strictTransport) reply.header('strict-transport-security', strictTransport);
}

export const securityHeaders = fp(
  async (app: FastifyInstance, options: SecurityHeadersOptions) => {
    const strictTransport = options.strictTransport ?? (() => undefined);
    // Callback style: an async hook costs a promise and a microtask turn per request.
    app.addHook('onRequest', (request, reply, done) => {
      applySecurityHeaders(reply, request.id, strictTransport());
      // API answers depend on credentials; no shared cache should keep them.
      if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
      done();
    });
  },
  { name: 'security-headers' },
);
