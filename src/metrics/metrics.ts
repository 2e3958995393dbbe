import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { LiveKind } from '../live/live-connections.js';
import type { DeliveryRound } from '../mail/sender.js';
import type { Runtime } from '../runtime.js';
import { defineFigures } from './figures.js';
import { createRequestRecorder } from './request-recorder.js';

/** What the metrics read; every figure is the instance's own (tests run many in one process). */
export type MetricsSources = Pick<
  Runtime,
  | 'db'
  | 'store'
  | 'bus'
  | 'clock'
  | 'sync'
  | 'blobs'
  | 'hasher'
  | 'rateLimitLog'
  | 'refusals'
  | 'checkpointer'
>;

export interface LiveCounts {
  counts(): Record<LiveKind, number>;
}

export interface MailCounts {
  readonly counts: Readonly<DeliveryRound>;
}

export interface Metrics {
  readonly contentType: string;
  /** The Prometheus text exposition; query-backed figures are read now. */
  render(): Promise<string>;
  /** Times every answer of `app` by method, route pattern and status. */
  recordRequests(app: FastifyInstance): void;
  /** The live-sync routes' open streams and waiting pulls. */
  watchLive(live: LiveCounts): void;
  /** The outbox sender of a running server (serve starts it after the app). */
  watchMailer(mailer: MailCounts): void;
  close(): void;
}

/**
 * One registry per server instance, never prom-client's global one. prom-client is loaded
 * here, on first use: a server without metrics does not carry it.
 */
export async function createMetrics(sources: MetricsSources): Promise<Metrics> {
  const prom = await import('prom-client');
  const registry: Registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const live = new Set<LiveCounts>();
  const mailers = new Set<MailCounts>();
  const recorder = createRequestRecorder(prom, registry);
  const figures = defineFigures(prom, registry, sources, {
    live: () => {
      const sum: Record<LiveKind, number> = { stream: 0, waiter: 0 };
      for (const l of live) {
        const c = l.counts();
        sum.stream += c.stream;
        sum.waiter += c.waiter;
      }
      return sum;
    },
    mail: () => {
      const sum = { sent: 0, failed: 0 };
      for (const m of mailers) {
        sum.sent += m.counts.sent;
        sum.failed += m.counts.failed;
      }
      return sum;
    },
    routes: recorder.counts,
  });
  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    recordRequests: recorder.attach,
    watchLive: (l) => void live.add(l),
    watchMailer: (m) => void mailers.add(m),
    close() {
      figures.stop();
      live.clear();
      mailers.clear();
      registry.clear();
    },
  };
}
