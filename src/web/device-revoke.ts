import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { DeviceService } from '../commands/device-service.js';
import { requestMeta } from '../http/body.js';
import type { RateLimiter } from '../http/rate-limit.js';
import { csrfRefused } from './dashboard.js';
import { field, isRateLimited, readForm, withinLimit } from './forms.js';
import { csrfValid } from './tokens.js';

const RevokeForm = z.object({ password: field, csrf_token: field });

export interface RevokeFormDeps {
  readonly devices: DeviceService;
  readonly limiter: RateLimiter;
  readonly configuredPublicUrl: () => string;
}

/**
 * The dashboard's revoke form, posted to the JSON API's own route (CONTRACT.md §9): the
 * same password re-check and service, answered with a redirect back to the dashboard.
 */
export async function revokeFromForm(
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
  deps: RevokeFormDeps,
) {
  const form = readForm(RevokeForm, request);
  if (!csrfValid(request, form.csrf_token, deps.configuredPublicUrl())) throw csrfRefused();
  const { userId } = request.account!;
  if (!withinLimit(deps.limiter, 'auth-test', request)) {
    return reply.redirect('/dashboard?error=limit', 303);
  }
  if (!form.password) return reply.redirect('/dashboard?error=password', 303);
  let matches: boolean;
  try {
    matches = await deps.devices.passwordMatches(userId, form.password, request.ip);
  } catch (err) {
    if (isRateLimited(err)) return reply.redirect('/dashboard?error=limit', 303);
    throw err;
  }
  if (!matches) return reply.redirect('/dashboard?error=password', 303);
  deps.devices.revoke(request.params.id, userId, 'user', requestMeta(request, `user:${userId}`));
  return reply.redirect('/dashboard?revoked=1', 303);
}
