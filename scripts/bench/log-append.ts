import { appendBatch, fillTo, openFixture, rssMiB, warmUp, type Fixture } from './fixture.js';
import { say, type BenchOptions, type Section, type SectionResult } from './section.js';
import { percentile, timed } from './stats.js';

const FILL_BATCH = 100;

interface Window {
  readonly events: number;
  readonly transactions: number;
  readonly ms: number;
  readonly cpuPercent: number;
  readonly writtenMiB: number;
  readonly latencies: number[];
}

/**
 * Appends batches of `batch` events, one transaction each, until `maxEvents` are in or
 * `maxMs` has passed. Events are built before the clock starts, so only the append
 * (validation, hashing, insert, commit with fsync) is timed.
 */
function timedWindow(
  { runtime, events: source }: Fixture,
  batch: number,
  maxEvents: number,
  maxMs: number,
): Window {
  const batches = Array.from({ length: Math.ceil(maxEvents / batch) }, () => source.batch(batch));
  const latencies: number[] = [];
  let events = 0;
  const { ms, cpuPercent, writtenMiB } = timed(() => {
    const t0 = performance.now();
    for (const requests of batches) {
      const t = performance.now();
      appendBatch(runtime, requests);
      const done = performance.now();
      latencies.push(done - t);
      events += requests.length;
      if (done - t0 >= maxMs) break;
    }
  });
  source.discardPending();
  return { events, transactions: latencies.length, ms, cpuPercent, writtenMiB, latencies };
}

async function run(options: BenchOptions): Promise<SectionResult> {
  const { sizes, windowMs } = options;
  const first = sizes[0]!;
  // The first window grows the log from empty; later ones start at each larger size.
  const levels = [0, ...sizes.slice(1)];
  await warmUp();
  const fixture = openFixture('log', options.eventsPerStream);
  const rows: Record<string, number | string>[] = [];
  try {
    const { runtime } = fixture;
    for (const level of levels) {
      if (level > 0) {
        say(`log: growing the log to ${level} events (batch ${FILL_BATCH})`);
        const rate = await fillTo(fixture, level, FILL_BATCH);
        say(`log: filled at ${Math.round(rate)} events/s`);
      }
      const cap = Math.max(first, Math.round(level / 20));
      for (const batch of [100, 1]) {
        const from = runtime.store.head();
        say(`log: batch ${batch} window from ${from} events (≤ ${cap} events, ≤ ${windowMs} ms)`);
        const w = timedWindow(fixture, batch, cap, windowMs);
        rows.push({
          batch,
          from,
          to: runtime.store.head(),
          events: w.events,
          seconds: w.ms / 1000,
          rate: (w.events / w.ms) * 1000,
          p50: percentile(w.latencies, 50),
          p99: percentile(w.latencies, 99),
          cpu: w.cpuPercent,
          written: (w.writtenMiB * 1024) / w.events,
          rss: rssMiB(),
        });
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  } finally {
    fixture.dispose();
  }
  return {
    name: 'log',
    title: 'Log append (store.append inside inWriteTransaction, WAL + synchronous=FULL)',
    notes: [
      fixture.events.note,
      `one transaction per batch; each window stops after ${windowMs} ms or its event cap`,
      'p50/p99: one transaction, commit and fsync included',
      'CPU %: process CPU time / wall time (low: waiting on fsync or on other processes)',
      'written: bytes the process sent to storage (WAL, checkpoints), from /proc/self/io',
    ],
    columns: [
      { key: 'batch', label: 'batch', format: 'count' },
      { key: 'from', label: 'log from', format: 'count' },
      { key: 'to', label: 'log to', format: 'count' },
      { key: 'events', label: 'events', format: 'count' },
      { key: 'seconds', label: 's', format: 'seconds' },
      { key: 'rate', label: 'events/s', format: 'rate' },
      { key: 'p50', label: 'txn p50 ms', format: 'ms' },
      { key: 'p99', label: 'txn p99 ms', format: 'ms' },
      { key: 'cpu', label: 'CPU %', format: 'count' },
      { key: 'written', label: 'KiB written/event', format: 'decimal' },
      { key: 'rss', label: 'RSS MiB', format: 'decimal' },
    ],
    rows,
  };
}

export const logSection: Section = {
  name: 'log',
  description: 'event log append throughput, batches of 1 and 100 events per transaction',
  run,
};
