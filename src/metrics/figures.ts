import { stat } from 'node:fs/promises';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import type { LiveKind } from '../live/live-connections.js';
import { oldestPendingMail, pendingMailCounts } from '../mail/outbox.js';
import type { DeliveryRound } from '../mail/sender.js';
import type { MetricsSources } from './metrics.js';
import type { RouteCounts } from './request-recorder.js';

type Prom = typeof PromClient;

export interface FigureReaders {
  live(): Record<LiveKind, number>;
  mail(): DeliveryRound;
  readonly routes: Readonly<RouteCounts>;
}

type Labels = Record<string, string>;
type Read = (add: (labels: Labels, value: number) => void) => void;

/** Group commits hold at most 16 commands (commands/handle.ts). */
const GROUP_BUCKETS = [1, 2, 4, 8, 16];

/**
 * Every figure except request durations. Counters mirror running totals that their owners
 * keep as plain numbers (the push and pull paths add to a field, nothing more); gauges that
 * need a query or a stat are read here, at scrape time, never while a request is answered.
 */
export function defineFigures(
  prom: Prom,
  registry: Registry,
  sources: MetricsSources,
  readers: FigureReaders,
) {
  const registers = [registry];
  const total = (name: string, help: string, labelNames: readonly string[], read: Read) =>
    new prom.Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        read((labels, value) => this.inc(labels, value));
      },
    });
  const gauge = (
    name: string,
    help: string,
    labelNames: readonly string[],
    read: (add: (labels: Labels, value: number) => void) => void | Promise<void>,
  ) =>
    new prom.Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        this.reset();
        await read((labels, value) => this.set(labels, value));
      },
    });
  const { sync, db } = sources;

  total('verstak_push_batches_total', 'Push requests by outcome', ['outcome'], (add) => {
    add({ outcome: 'committed' }, sync.counts.committedBatches);
    add({ outcome: 'replayed' }, sync.counts.replayedBatches);
    add({ outcome: 'refused' }, readers.routes.refusedPushes);
  });
  total('verstak_push_ops_total', 'Pushed operations by outcome', ['outcome'], (add) => {
    add({ outcome: 'accepted' }, sync.counts.acceptedOps);
    add({ outcome: 'duplicate' }, sync.counts.duplicateOps);
    add({ outcome: 'rejected' }, sync.counts.rejectedOps);
  });
  total('verstak_push_conflicts_total', 'Conflicts reported to pushing devices', [], (add) =>
    add({}, sync.counts.conflicts),
  );
  total('verstak_pull_pages_total', 'Pull pages answered', [], (add) =>
    add({}, readers.routes.pulledPages),
  );
  total('verstak_pull_ops_total', 'Operations sent in pull pages', [], (add) =>
    add({}, sync.counts.pulledOps),
  );
  total(
    'verstak_blob_bytes_total',
    'Blob bytes uploaded (in) and downloaded (out)',
    ['direction'],
    (add) => {
      add({ direction: 'in' }, sources.blobs.counts.uploadedBytes);
      add({ direction: 'out' }, readers.routes.blobBytesOut);
    },
  );

  gauge('verstak_log_head', 'Sequence number of the newest event in the log', [], (add) =>
    add({}, sources.store.head()),
  );
  const walFile = db.memory ? undefined : `${db.name}-wal`;
  const walState = db.prepare<[], { log: number; checkpointed: number }>(
    'PRAGMA wal_checkpoint(NOOP)',
  );
  gauge('verstak_wal_bytes', 'Size of the write-ahead log file', [], async (add) => {
    add(
      {},
      walFile
        ? await stat(walFile).then(
            (s) => s.size,
            () => 0,
          )
        : 0,
    );
  });
  gauge(
    'verstak_wal_pending_frames',
    'WAL frames not yet checkpointed into the database file (checkpoint lag)',
    [],
    (add) => {
      if (db.memory) return add({}, 0);
      // NOOP only reads the WAL index: no checkpoint runs on the event loop for a scrape.
      // While the index is briefly locked (recovery, a restart) the series is left out.
      let wal: { log: number; checkpointed: number } | undefined;
      try {
        wal = walState.get();
      } catch {
        return;
      }
      add({}, wal && wal.log > 0 ? wal.log - wal.checkpointed : 0);
    },
  );
  const checkpoints = () => sources.checkpointer?.stats();
  total('verstak_checkpoints_total', 'WAL checkpoints run by the checkpoint worker', [], (add) =>
    add({}, checkpoints()?.checkpoints ?? 0),
  );
  total('verstak_checkpoint_frames_total', 'WAL frames the checkpoint worker copied', [], (add) =>
    add({}, checkpoints()?.frames ?? 0),
  );
  total(
    'verstak_checkpoint_worker_failures_total',
    'Checkpoint worker failures (each is restarted after a backoff)',
    [],
    (add) => add({}, checkpoints()?.failures ?? 0),
  );

  gauge('verstak_mail_outbox_pending', 'Mails waiting in the outbox', ['state'], (add) => {
    const { waiting, failing } = pendingMailCounts(db);
    add({ state: 'new' }, waiting - failing);
    add({ state: 'retrying' }, failing);
  });
  gauge(
    'verstak_mail_outbox_oldest_age_seconds',
    'Age of the oldest mail not yet sent, 0 when none waits',
    [],
    (add) => {
      const oldest = oldestPendingMail(db);
      const age = oldest ? (sources.clock.now().getTime() - Date.parse(oldest)) / 1000 : 0;
      add({}, Math.max(0, age));
    },
  );
  total('verstak_mail_deliveries_total', 'Mail delivery attempts by result', ['result'], (add) => {
    const mail = readers.mail();
    add({ result: 'sent' }, mail.sent);
    add({ result: 'failed' }, mail.failed);
  });

  gauge(
    'verstak_live_connections',
    'Open event streams and waiting long-poll pulls',
    ['kind'],
    (add) => {
      const live = readers.live();
      add({ kind: 'stream' }, live.stream);
      add({ kind: 'waiter' }, live.waiter);
    },
  );

  const hasher = () => sources.hasher.stats?.();
  gauge('verstak_argon2_running', 'Password hashes being computed', [], (add) =>
    add({}, hasher()?.running ?? 0),
  );
  gauge('verstak_argon2_queued', 'Password hashes waiting for a slot', [], (add) =>
    add({}, hasher()?.queued ?? 0),
  );
  total(
    'verstak_argon2_shed_total',
    'Password checks refused (503 server_busy) because the hash queue was full',
    [],
    (add) => add({}, hasher()?.shed ?? 0),
  );

  total(
    'verstak_rate_limit_refusals_total',
    'Requests refused by a rate limit, by action and budget (client or account)',
    ['action', 'scope'],
    (add) => {
      for (const [key, n] of sources.rateLimitLog.totals()) {
        const [scope = '', action = ''] = key.split(':');
        add({ action, scope }, n);
      }
    },
  );
  total(
    'verstak_auth_refusals_total',
    'Refused sign-ins, device authentications and rate-limited requests, by kind',
    ['kind'],
    (add) => {
      for (const [kind, n] of Object.entries(sources.refusals.totals)) add({ kind }, n);
    },
  );

  // Observed once per group commit (not per command): a bus signal after the commit.
  const groups = new prom.Histogram({
    name: 'verstak_group_commit_size',
    help: 'Commands committed together by one group commit (one fsync)',
    buckets: GROUP_BUCKETS,
    registers,
  });
  const onGrouped = (size: number) => groups.observe(size);
  sources.bus.on('grouped', onGrouped);

  return {
    stop: () => sources.bus.off('grouped', onGrouped),
  };
}
