import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { clientKeyOf } from './client-key.js';
import { sendError } from './plugins/errors.js';

export interface ConnectionLimitOptions {
  /** Open connections in all: idle keep-alive and lingering ones hold a descriptor too. */
  readonly maxConnections: number;
  /** Per client: an IPv4 address or an IPv6 /64 (client-key.ts). */
  readonly maxPerClient: number;
  /** Peers that relay many clients (trusted proxies): counted against the total only. */
  readonly isSharedPeer: (ip: string | undefined) => boolean;
  /** How long a refused connection may take to send the request its 503 answers. */
  readonly refusalGraceMs: number;
}

/**
 * Refused connections kept open just long enough to read their request line and answer it
 * with 503: a real client past its cap (an office behind one address) learns why and when
 * to come back, where a reset would look like a network fault. Past these few, a flood is
 * closed at once, so refusing costs almost nothing.
 */
const REFUSALS_PER_CLIENT = 4;
const REFUSALS_IN_ALL = 64;
const SUMMARY_MS = 60_000;
const RETRY_AFTER_S = '5';

type Refusal = 'client' | 'total';

const MESSAGES: Record<Refusal, string> = {
  client: 'too many open connections from this address; close some or try again shortly',
  total: 'server has too many open connections; try again shortly',
};

/** Counts per key, dropping a key at zero so the map holds only open clients. */
function createTally() {
  const counts = new Map<string, number>();
  let total = 0;
  return {
    get total() {
      return total;
    },
    of: (key: string) => counts.get(key) ?? 0,
    add(key: string) {
      counts.set(key, (counts.get(key) ?? 0) + 1);
      total += 1;
    },
    remove(key: string) {
      const left = (counts.get(key) ?? 1) - 1;
      if (left > 0) counts.set(key, left);
      else counts.delete(key);
      total -= 1;
    },
  };
}

/**
 * Caps open connections per client and in all, counted from accept to close, so that
 * one host cannot hold thousands of idle sockets. A connection past a cap is answered
 * 503 `too_many_connections` (with Retry-After, then closed) when its request arrives,
 * or closed at once when even the refusals are full.
 */
export const connectionLimits = fp(
  async (app: FastifyInstance, options: ConnectionLimitOptions) => {
    const open = createTally();
    const refusing = createTally();
    const refused = new WeakMap<Socket, { why: Refusal; grace: NodeJS.Timeout }>();
    const stats = { answered: 0, closed: 0 };
    // Node drops connections past this before any JavaScript runs: a backstop for floods.
    app.server.maxConnections = options.maxConnections + REFUSALS_IN_ALL;

    const refuse = (socket: Socket, key: string, why: Refusal) => {
      if (refusing.of(key) >= REFUSALS_PER_CLIENT || refusing.total >= REFUSALS_IN_ALL) {
        stats.closed += 1;
        socket.destroy();
        return;
      }
      refusing.add(key);
      const grace = setTimeout(() => socket.destroy(), options.refusalGraceMs);
      refused.set(socket, { why, grace });
      socket.once('close', () => {
        clearTimeout(grace);
        refusing.remove(key);
      });
    };

    app.server.on('connection', (socket: Socket) => {
      const key = clientKeyOf(socket.remoteAddress ?? '');
      const shared = options.isSharedPeer(socket.remoteAddress);
      if (open.total >= options.maxConnections) {
        refuse(socket, key, 'total');
        return;
      }
      if (!shared && open.of(key) >= options.maxPerClient) {
        refuse(socket, key, 'client');
        return;
      }
      open.add(key);
      socket.once('close', () => open.remove(key));
    });

    app.addHook('onRequest', (request, reply, done) => {
      const refusal = refused.get(request.raw.socket);
      if (refusal === undefined) {
        done();
        return;
      }
      // Answered: from here the close is the answer's (a lingering one if a body follows).
      clearTimeout(refusal.grace);
      stats.answered += 1;
      reply.header('retry-after', RETRY_AFTER_S).header('connection', 'close');
      sendError(reply, 503, 'too_many_connections', MESSAGES[refusal.why]);
    });

    // Never a line per refusal: a flood would turn into a flood of log lines.
    const summarise = () => {
      if (stats.answered + stats.closed === 0) return;
      app.log.warn({ connectionsRefused: { ...stats } }, 'connection caps refused connections');
      stats.answered = 0;
      stats.closed = 0;
    };
    const timer = setInterval(summarise, SUMMARY_MS);
    timer.unref();
    app.addHook('onClose', (_app, done) => {
      clearInterval(timer);
      summarise();
      done();
    });
  },
  { name: 'connection-limits' },
);
