import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError, badRequest } from '../../errors.js';
import { listDevicesOfUser } from '../../projections/devices.js';
import type { Runtime } from '../../runtime.js';
import { parseJsonBody, requestMeta, wireTime } from '../body.js';
import type { RateLimiter } from '../rate-limit.js';
import { createSessionAuthenticator } from '../session-auth.js';

export type UserRouteDeps = Pick<
  Runtime,
  'db' | 'sessions' | 'devices' | 'activity' | 'configuredPublicUrl'
> & {
  readonly limiter: RateLimiter;
};

const RevokeBody = z.object({ password: z.string().default('') });

/** CONTRACT.md §7: a signed-in user's own devices. */
export async function userRoutes(app: FastifyInstance, deps: UserRouteDeps) {
  const { db, devices, activity, limiter } = deps;
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

  app.post<{ Params: { id: string } }>('/api/v1/user/devices/:id/revoke', async (request) => {
    const { userId } = request.account!;
    const body = parseJsonBody(RevokeBody, request.body);
    if (!body.password) throw badRequest('password required');
    limiter.check('auth-test', request.ip, userId);
    if (!(await devices.passwordMatches(userId, body.password))) {
      throw new AppError(403, 'forbidden', 'wrong password');
    }
    devices.revoke(request.params.id, userId, 'user', requestMeta(request, `user:${userId}`));
    return { status: 'revoked' };
  });
}
