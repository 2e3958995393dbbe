import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError, badRequest } from '../../errors.js';
import { listDevicesOfUser } from '../../projections/devices.js';
import type { Runtime } from '../../runtime.js';
import { parseJsonBody, requestMeta, wireTime } from '../body.js';
import { credentialsBodyLimit } from '../body-limits.js';
import type { RateLimiter } from '../rate-limit.js';
import { createSessionAuthenticator } from '../session-auth.js';
import { csrfRefused } from '../../web/dashboard.js';
import { revokeFromForm } from '../../web/device-revoke.js';
import { csrfValid } from '../../web/tokens.js';

export type UserRouteDeps = Pick<
  Runtime,
  'db' | 'sessions' | 'devices' | 'activity' | 'configuredPublicUrl' | 'config'
> & {
  readonly limiter: RateLimiter;
};

const RevokeBody = z.object({ password: z.string().default('') });

const isForm = (request: FastifyRequest) =>
  (request.headers['content-type'] ?? '')
    .toLowerCase()
    .startsWith('application/x-www-form-urlencoded');

/** CONTRACT.md §7: a signed-in user's own devices. */
export async function userRoutes(app: FastifyInstance, deps: UserRouteDeps) {
  const { db, devices, activity, limiter } = deps;
  // The dashboard's revoke form posts here (CONTRACT.md §9); JSON stays the default.
  await app.register(formbody, { bodyLimit: 16 * 1024 });
  app.decorateRequest('account', null);
  app.addHook('onRequest', createSessionAuthenticator(deps));

  app.get('/api/v1/user/devices', async (request) =>
    listDevicesOfUser(db, request.account!.userId).map((d) => ({
      id: d.id,
      name: d.name,
      vault_id: d.vault_id,
      client_version: d.client_version,
      last_seen: wireTime(activity.lastSeen(d.id)?.last_seen),
      revoked_at: wireTime(d.revoked_at),
      created_at: wireTime(d.created_at),
    })),
  );

  app.post<{ Params: { id: string } }>(
    '/api/v1/user/devices/:id/revoke',
    { bodyLimit: credentialsBodyLimit(deps.config.limits) },
    async (request, reply) => {
      if (isForm(request)) return revokeFromForm(request, reply, deps);
      // A session cookie rides along on a forged request; the CSRF token does not. A Bearer
      // session token (POST /api/v1/auth/login) is never sent by a browser on its own.
      const viaBearer = (request.headers.authorization ?? '').startsWith('Bearer ');
      if (!viaBearer && !csrfValid(request, undefined, deps.configuredPublicUrl())) {
        throw csrfRefused();
      }
      const { userId } = request.account!;
      const body = parseJsonBody(RevokeBody, request.body);
      if (!body.password) throw badRequest('password required');
      limiter.check('auth-test', request.ip);
      if (!(await devices.passwordMatches(userId, body.password, request.ip))) {
        throw new AppError(403, 'forbidden', 'wrong password');
      }
      devices.revoke(request.params.id, userId, 'user', requestMeta(request, `user:${userId}`));
      return { status: 'revoked' };
    },
  );
}
