import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

// CONTRACT.md §2: the same set on every response, API and HTML alike.
const HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; img-src 'self' data:; script-src 'self'; style-src 'self'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

export const securityHeaders = fp(
  async (app: FastifyInstance) => {
    // Callback style: an async hook costs a promise and a microtask turn per request.
    app.addHook('onRequest', (request, reply, done) => {
      reply.headers(HEADERS);
      reply.header('x-request-id', request.id);
      // API answers depend on credentials; no shared cache should keep them.
      if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
      done();
    });
  },
  { name: 'security-headers' },
);
