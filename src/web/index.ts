import formbody from '@fastify/formbody';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { HealthDeps } from '../http/routes/health.js';
import type { Runtime } from '../runtime.js';
import type { BuildInfo } from '../version.js';
import { answersJson } from './admin/api-guard.js';
import { adminRoutes } from './admin/routes.js';
import { dashboardRoutes } from './dashboard.js';
import { localeRoutes } from './locale-routes.js';
import { passwordPages } from './password-pages.js';
import { renderError } from './errors.js';
import { publicPages } from './public-pages.js';
import { USER_SESSION_COOKIE } from './tokens.js';

export type WebDeps = Pick<
  Runtime,
  | 'db'
  | 'blobDir'
  | 'accounts'
  | 'passwordResets'
  | 'sessions'
  | 'adminSessions'
  | 'users'
  | 'devices'
  | 'handle'
  | 'hasher'
  | 'activity'
  | 'config'
  | 'configuredPublicUrl'
  | 'publicUrl'
  | 'webSettings'
  | 'settings'
  | 'ids'
  | 'clock'
  | 'cleanup'
  | 'dataDir'
  | 'store'
  | 'projector'
  | 'secrets'
> & {
  readonly limiter: RateLimiter;
  /** The build's version for the admin diagnostics (buildApp's, else read from disk). */
  readonly build?: BuildInfo;
} & Pick<HealthDeps, 'logOutput' | 'checkpointer'>;

/** The browser console's user pages (CONTRACT.md §9), in a scope of their own. */
export async function webRoutes(app: FastifyInstance, deps: WebDeps) {
  // Form bodies are parsed only here: every other scope reads any body as JSON.
  await app.register(formbody, { bodyLimit: 16 * 1024 });
  app.decorateRequest('account', null);
  app.addHook('onRequest', (request, _reply, done) => {
    request.account =
      deps.sessions.authenticate(request.cookies[USER_SESSION_COOKIE] ?? '') ?? null;
    done();
  });
  // Client errors become a page in the reader's language; the rest go to the app's handler.
  app.setErrorHandler(async (err, request, reply) => {
    if (
      err instanceof AppError &&
      err.status < 500 &&
      err.code !== 'csrf_invalid' &&
      !answersJson(request)
    ) {
      reply.headers(err.headers);
      return renderError(request, reply, deps, err.status);
    }
    throw err;
  });
  await app.register(localeRoutes, deps);
  await app.register(publicPages, deps);
  await app.register(passwordPages, deps);
  await app.register(dashboardRoutes, deps);
  await app.register(adminRoutes, deps);
}
