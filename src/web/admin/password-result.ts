import type { FastifyInstance } from 'fastify';
import { AppError } from '../../errors.js';
import type { OneTimeSecrets } from '../../projections/admin-one-time-secrets.js';
import type { WebDeps } from '../index.js';
import { adminApi } from './api-guard.js';
import { adminTokenOf } from './user-tools.js';
import type { AdminScope } from './inventory.js';

// CONTRACT.md §10, §11: the password the console generated last in this admin session,
// shown once (as a page, or as JSON for a script), then gone; it expires after 5 minutes.

const expired = () =>
  new AppError(410, 'one_time_secret_expired', 'the password was already shown, or it has expired');

export function passwordResultRoutes(
  app: FastifyInstance,
  deps: WebDeps,
  { signedIn, adminPage }: AdminScope,
  oneTime: OneTimeSecrets,
) {
  app.get('/admin/password-result', signedIn, async (request, reply) => {
    // A HEAD (a link checker, a prefetch) gets the page's headers and uses nothing up.
    const secret = request.method === 'HEAD' ? undefined : oneTime.take(adminTokenOf(request));
    return adminPage(request, reply, 'admin-password-result', 'adminPasswordResultTitle', 'users', {
      secret: secret ?? null,
    });
  });

  app.post(
    '/admin/password-result/secret',
    // FastifyContextConfig declares no jsonErrors: its options are route options all the same.
    adminApi(deps.configuredPublicUrl, { write: true }),
    async (request, reply) => {
      const secret = oneTime.take(adminTokenOf(request));
      if (!secret) throw expired();
      return reply.header('cache-control', 'no-store').send({ password: secret.password });
    },
  );
}
