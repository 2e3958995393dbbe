import type { FastifyReply, FastifyRequest } from 'fastify';
import { csrfRefused } from '../dashboard.js';
import { adminCsrfValid } from './session.js';

/** Route config of a JSON answer inside the console: its errors keep the contract's body. */
export interface JsonErrorsConfig {
  readonly jsonErrors?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** See JsonErrorsConfig. */
    readonly jsonErrors?: boolean;
  }
}

export const answersJson = (request: FastifyRequest) =>
  request.routeOptions.config.jsonErrors === true;

/**
 * CONTRACT.md §10: the admin JSON API. No session → 302 /admin/login (also for JSON);
 * a mutation also needs CSRF (`X-CSRF-Token`, or the `csrf_token` field of a form post),
 * else 403 `csrf_invalid`. Errors answer `{error, code}`, never the console's HTML page.
 */
export function adminApi(publicUrl: () => string, options: { write: boolean }) {
  return {
    config: { jsonErrors: true } satisfies JsonErrorsConfig,
    preHandler: async (request: FastifyRequest, reply: FastifyReply) => {
      if (!request.admin) return reply.redirect('/admin/login', 302);
      if (options.write) {
        const body = request.body as { csrf_token?: unknown } | null | undefined;
        const field = typeof body === 'object' && body !== null ? body.csrf_token : undefined;
        if (!adminCsrfValid(request, field, publicUrl())) throw csrfRefused();
      }
      return undefined;
    },
  };
}
