import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { createLiveConnections, type LiveKind } from '../../live/live-connections.js';
import { watchVaultHeads } from '../../live/vault-heads.js';
import { vaultStream } from '../../log/streams.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Runtime } from '../../runtime.js';
import { z } from 'zod';
import { DEVICE_TOKEN, refusals } from '../openapi/answers.js';

export type LiveRouteDeps = Pick<Runtime, 'bus' | 'config' | 'sync'> & {
  /** Counts the open streams and waiters when the server has metrics. */
  readonly metrics?: Pick<Metrics, 'watchLive'> | undefined;
};

/** CONTRACT.md §19: the longest a pull may ask to wait for a change. */
export const MAX_WAIT_MS = 30_000;

const tooMany = () =>
  new AppError(503, 'too_many_streams', 'too many live connections; try again later', {
    'retry-after': '30',
  });

const headEvent = (head: number) =>
  `event: head\nid: ${head}\ndata: {"server_sequence":${head}}\n\n`;

/** `Last-Event-ID` as the seq a client last heard of; anything else counts as none. */
function lastEventId(request: FastifyRequest): number | undefined {
  const raw = request.headers['last-event-id'];
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

/**
 * Live sync (CONTRACT.md §19): an event stream per device that says when its vault's head
 * moves, and pulls that wait for a change instead of answering empty. Registered inside the
 * sync routes' scope, so the device authenticator runs first. Only hints travel here: the
 * client still pulls by sequence, so nothing is lost when a notification is.
 * Returns the wait a pull calls when its page would be empty.
 */
export function liveSyncRoutes(app: FastifyInstance, deps: LiveRouteDeps) {
  const { config, sync } = deps;
  const heads = watchVaultHeads(deps.bus);
  const live = createLiveConnections(
    {
      perDevice: config.limits.max_live_per_device,
      perUser: config.limits.max_live_per_user,
      total: config.limits.max_live_connections,
    },
    heads,
  );
  deps.metrics?.watchLive(live);

  // One timer for every open stream, not one each: an idle stream costs its socket only.
  const streams = new Set<ServerResponse>();
  let heartbeat: NodeJS.Timeout | undefined;
  const beat = () => {
    for (const out of streams) if (!out.writableNeedDrain) out.write(': heartbeat\n\n');
  };
  const track = (out: ServerResponse) => {
    streams.add(out);
    heartbeat ??= setInterval(beat, config.timeouts.live_heartbeat_ms).unref();
  };
  const untrack = (out: ServerResponse) => {
    streams.delete(out);
    if (streams.size === 0 && heartbeat) {
      clearInterval(heartbeat);
      heartbeat = undefined;
    }
  };

  app.addHook('preClose', (done) => {
    live.endAll();
    done();
  });
  app.addHook('onClose', (_app, done) => {
    heads.close();
    done();
  });

  // No HEAD twin: it would run the handler and hold an endless answer open for nothing.
  const eventsSchema = {
    summary: 'Server-Sent Events: the vault’s head whenever it moves (then pull)',
    security: DEVICE_TOKEN,
    response: {
      200: {
        description:
          'An endless stream: `event: head`, `id: <N>`, `data: {"server_sequence": N}`; a comment heartbeat every 25 s. `Last-Event-ID` below the head gets one event at once.',
        content: { 'text/event-stream': { schema: z.string() } },
      },
      ...refusals({
        401: 'unauthorized: no, unknown or revoked device token',
        403: 'forbidden: the account is blocked',
        503: 'too_many_streams (Retry-After)',
      }),
    },
  };
  const events = { bodyLimit: 1, exposeHeadRoute: false, schema: eventsSchema };
  app.get('/api/v1/sync/events', events, (request, reply) => {
    const device = request.device!;
    const owner = { deviceId: device.deviceId, userId: device.userId };
    let ended = false;
    let unwatch = () => {};
    const end = () => {
      if (ended) return;
      ended = true;
      unwatch();
      release();
      untrack(out);
      out.end();
    };
    const admitted = live.admit(owner, 'stream', end);
    if (!admitted) throw tooMany();
    const release = admitted;
    // Written straight to the response: a stream piped through reply.send costs an idle
    // connection some 6 KB more heap (the pipe's and end-of-stream listeners, a second
    // stream's state; heap snapshots of 1,000 streams), and its answer never ends by itself.
    // The headers set so far (security headers, request id) go out as fastify would send
    // them; onResponse hooks still run when the stream ends (fastify listens on the response).
    reply.hijack();
    const out = reply.raw;
    reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-store')
      // nginx would otherwise buffer the stream (README, behind a reverse proxy).
      .header('x-accel-buffering', 'no');
    out.writeHead(200, reply.getHeaders() as OutgoingHttpHeaders);
    // A slow reader gets the newest head once it drains, never a queue of old ones.
    let unsent: number | undefined;
    const send = (head: number) => {
      if (out.writableNeedDrain) unsent = head;
      else out.write(headEvent(head));
    };
    out.on('drain', () => {
      if (unsent === undefined) return;
      const head = unsent;
      unsent = undefined;
      out.write(headEvent(head));
    });
    unwatch = heads.watch(vaultStream(device.userId, device.vaultId), send);
    // The response's close, not the request's: a request ends once its (empty) body is read.
    out.on('close', end);
    track(out);
    const head = sync.head(device);
    const heard = lastEventId(request);
    // Something at once, so that the client sees the answer start without a wait.
    out.write(heard !== undefined && heard < head ? headEvent(head) : ': connected\n\n');
  });

  /**
   * Waits until the vault's head passes `since` or `waitMs` runs out; also ends when the
   * client goes away, the device loses access or the server shuts down. Resolves either way:
   * the caller then answers the pull as it would have without waiting.
   */
  return function waitForChange(
    request: FastifyRequest,
    reply: FastifyReply,
    since: number,
    waitMs: number,
  ): Promise<void> | undefined {
    const device = request.device!;
    if (sync.head(device) > since) return undefined;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      let unwatch = () => {};
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unwatch();
        release?.();
        reply.raw.off('close', finish);
        resolve();
      };
      const kind: LiveKind = 'waiter';
      const release = live.admit(
        { deviceId: device.deviceId, userId: device.userId },
        kind,
        finish,
      );
      if (!release) {
        reject(tooMany());
        return;
      }
      unwatch = heads.watch(vaultStream(device.userId, device.vaultId), (head) => {
        if (head > since) finish();
      });
      const timer = setTimeout(finish, waitMs);
      reply.raw.on('close', finish);
    });
  };
}

/** `wait_ms` of a pull body: absent or 0 means answer at once, as pulls always did. */
export function waitMsOf(value: number | undefined): number {
  if (value === undefined) return 0;
  if (value < 0 || value > MAX_WAIT_MS) {
    throw new AppError(400, 'invalid_request', `wait_ms must be between 0 and ${MAX_WAIT_MS}`);
  }
  return value;
}
