import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { parseJsonBody, requestMeta } from '../body.js';
import { createDeviceAuthenticator } from '../device-auth.js';
import { validatePush } from '../push-input.js';
import { liveSyncRoutes, waitMsOf, type LiveRouteDeps } from './sync-live.js';

export type SyncRouteDeps = Pick<
  Runtime,
  'db' | 'activity' | 'clock' | 'refusals' | 'config' | 'sync' | 'bus'
> &
  Pick<LiveRouteDeps, 'metrics'>;

const PullBody = z.object({
  since_sequence: z.number().int().default(0),
  page_limit: z.number().int().default(0),
  wait_ms: z.number().int().optional(),
});

/** What sync.pull answers when no op follows the cursor (its exact tail). */
const EMPTY_PAGE_END = '"ops":[]}';

const json = 'application/json; charset=utf-8';

/** CONTRACT.md §4.6–4.7: the desktop's push and pull. */
export async function syncRoutes(app: FastifyInstance, deps: SyncRouteDeps) {
  const { sync, config } = deps;
  app.decorateRequest('device', null);
  // onRequest runs before the body is read: an anonymous client gets its 401 without
  // having a push body of up to max_push_body buffered and parsed.
  app.addHook('onRequest', createDeviceAuthenticator(deps));
  const waitForChange = liveSyncRoutes(app, deps);

  app.post(
    '/api/v1/sync/push',
    {
      bodyLimit: config.limits.max_push_body,
      // The desktop halves its batch only on this code (CONTRACT.md §17.3).
      config: { tooLargeCode: 'too_many_operations' },
    },
    async (request, reply) => {
      const device = request.device!;
      const input = validatePush(request.body, config.limits);
      const answer = await sync.push(
        { userId: device.userId, vaultId: device.vaultId, deviceId: device.deviceId },
        input,
        requestMeta(request, `device:${device.deviceId}`),
      );
      return reply.type(json).send(`${answer}\n`);
    },
  );

  app.post('/api/v1/sync/pull', async (request, reply) => {
    const device = request.device!;
    const body = parseJsonBody(PullBody, request.body);
    if (body.since_sequence < 0 || body.page_limit < 0) {
      throw new AppError(400, 'invalid_request', 'sequence and page_limit must be non-negative');
    }
    const waitMs = waitMsOf(body.wait_ms);
    const scope = { userId: device.userId, vaultId: device.vaultId, deviceId: device.deviceId };
    let page = sync.pull(scope, body.since_sequence, body.page_limit);
    if (waitMs > 0 && page.endsWith(EMPTY_PAGE_END)) {
      // Long-poll: only when nothing follows the cursor yet; then answered as without it.
      const waited = waitForChange(request, reply, body.since_sequence, waitMs);
      if (waited) {
        await waited;
        page = sync.pull(scope, body.since_sequence, body.page_limit);
      }
    }
    return reply.type(json).send(`${page}\n`);
  });
}
