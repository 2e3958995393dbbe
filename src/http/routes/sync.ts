import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { requestMeta, sendJsonText } from '../body.js';
import { createDeviceAuthenticator } from '../device-auth.js';
import { DEVICE_TOKEN, refusals } from '../openapi/answers.js';
import { PullAnswer, PullBody, PushAnswer, PushBody } from '../openapi/desktop-schemas.js';
import { validateWith } from '../openapi/validation.js';
import { validatePush, type PushInput } from '../push-input.js';
import { liveSyncRoutes, waitMsOf, type LiveRouteDeps } from './sync-live.js';

export type SyncRouteDeps = Pick<
  Runtime,
  'db' | 'activity' | 'clock' | 'refusals' | 'config' | 'sync' | 'bus'
> &
  Pick<LiveRouteDeps, 'metrics'>;

/** What sync.pull answers when no op follows the cursor (its exact tail). */
const EMPTY_PAGE_END = '"ops":[]}';

/** CONTRACT.md §4.6–4.7: the desktop's push and pull. */
export async function syncRoutes(fastify: FastifyInstance, deps: SyncRouteDeps) {
  const { sync, config } = deps;
  const app = fastify.withTypeProvider<ZodTypeProvider>();
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
      schema: {
        summary: 'Push operations (idempotent, deduplicated by op_id)',
        security: DEVICE_TOKEN,
        body: PushBody,
        response: {
          200: PushAnswer,
          ...refusals({
            400: 'invalid_json, field_too_long, invalid_operation, invalid_payload, inline_binary_forbidden, invalid_blob_reference, blob_not_owned',
            401: 'unauthorized: no, unknown or revoked device token',
            403: 'forbidden: the account is blocked',
            413: 'too_many_operations, payload_too_large',
          }),
        },
      },
      // Hand-written for the hot path and the contract's per-field codes and order.
      validatorCompiler: validateWith((body) => validatePush(body, config.limits)),
    },
    async (request, reply) => {
      const device = request.device!;
      const input = request.body as unknown as PushInput;
      const answer = await sync.push(
        { userId: device.userId, vaultId: device.vaultId, deviceId: device.deviceId },
        input,
        requestMeta(request, `device:${device.deviceId}`),
      );
      return sendJsonText(reply, answer);
    },
  );

  const pullSchema = {
    summary: 'Pull the operations after a sequence, a page at a time',
    security: DEVICE_TOKEN,
    body: PullBody,
    response: {
      200: PullAnswer,
      ...refusals({
        400: 'invalid_json, invalid_request: negative sequence, page_limit or wait_ms',
        401: 'unauthorized',
        403: 'forbidden',
        409: 'cursor_ahead: the cursor lies past this log (a restored server)',
      }),
    },
  };
  app.post('/api/v1/sync/pull', { schema: pullSchema }, async (request, reply) => {
    const device = request.device!;
    const { body } = request;
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
    return sendJsonText(reply, page);
  });
}
