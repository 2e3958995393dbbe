import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError, badRequest } from '../../errors.js';
import { listDevicesOfUser } from '../../projections/devices.js';
import type { Runtime } from '../../runtime.js';
import { requestMeta, wireTime } from '../body.js';
import { credentialsBodyLimit } from '../body-limits.js';
import {
  DeviceIdParams,
  RevokeOwnDeviceBody,
  UserDevicesAnswer,
} from '../openapi/account-schemas.js';
import { redirect, refusals, SESSION_TOKEN, StatusAnswer } from '../openapi/answers.js';
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

const isForm = (request: FastifyRequest) =>
  (request.headers['content-type'] ?? '')
    .toLowerCase()
    .startsWith('application/x-www-form-urlencoded');

/** CONTRACT.md §7: a signed-in user's own devices. */
export async function userRoutes(fastify: FastifyInstance, deps: UserRouteDeps) {
  const { db, devices, activity, limiter } = deps;
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  // The dashboard's revoke form posts here (CONTRACT.md §9); JSON stays the default.
  await app.register(formbody, { bodyLimit: 16 * 1024 });
  app.decorateRequest('account', null);
  app.addHook('onRequest', createSessionAuthenticator(deps));

  const sessionRefusals = {
    302: redirect('No session: to /login'),
    ...refusals({ 401: 'session_invalid' }),
  };
  const listSchema = {
    summary: 'The signed-in user’s devices',
    security: SESSION_TOKEN,
    response: { 200: UserDevicesAnswer, ...sessionRefusals },
  };
  app.get('/api/v1/user/devices', { schema: listSchema }, async (request) =>
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

  // Before the body schema applies: the dashboard's form post, then the JSON post's CSRF.
  const beforeBody = async (request: FastifyRequest, reply: FastifyReply) => {
    if (isForm(request)) {
      return revokeFromForm(request as FastifyRequest<{ Params: { id: string } }>, reply, deps);
    }
    // A session cookie rides along on a forged request; the CSRF token does not. A Bearer
    // session token (POST /api/v1/auth/login) is never sent by a browser on its own.
    const viaBearer = (request.headers.authorization ?? '').startsWith('Bearer ');
    if (!viaBearer && !csrfValid(request, undefined, deps.configuredPublicUrl())) {
      throw csrfRefused();
    }
    return undefined;
  };
  const revokeSchema = {
    summary: 'Revoke one of the user’s devices (password required; CSRF token with a cookie)',
    security: SESSION_TOKEN,
    params: DeviceIdParams,
    body: RevokeOwnDeviceBody,
    response: {
      200: StatusAnswer('revoked'),
      303: redirect('A form post from the dashboard: back to it'),
      ...sessionRefusals,
      ...refusals({
        400: 'invalid_json, invalid_request: password required',
        401: 'session_invalid',
        403: 'forbidden: wrong password, or another user’s device; csrf_invalid',
        404: 'not_found: no such device',
        429: 'rate_limited',
      }),
    },
  };
  app.post(
    '/api/v1/user/devices/:id/revoke',
    {
      bodyLimit: credentialsBodyLimit(deps.config.limits),
      preValidation: beforeBody,
      schema: revokeSchema,
    },
    async (request) => {
      const { userId } = request.account!;
      const { body } = request;
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
