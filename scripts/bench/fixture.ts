import {
  closeSync,
  fdatasyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stderrProgress } from '../../src/cli/progress.js';
import { inWriteTransaction, type AppendRequest } from '../../src/log/index.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { createEventSource, requestMeta, type EventSource } from './events.js';
import { percentile } from './stats.js';

/** A runtime on a fresh data directory under the system temp dir, removed by `dispose`. */
export interface Fixture {
  readonly dir: string;
  readonly runtime: Runtime;
  readonly events: EventSource;
  dispose(): void;
}

export function openFixture(label: string, eventsPerStream: number): Fixture {
  const dir = mkdtempSync(join(tmpdir(), `verstak-bench-${label}-`));
  const runtime = openRuntime({ dataDir: dir });
  let disposed = false;
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    try {
      runtime.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // An interrupted run must not leave a gigabyte of log behind.
  const onSignal = () => {
    dispose();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    dir,
    runtime,
    events: createEventSource(eventsPerStream),
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      dispose();
    },
  };
}

/** Appends one batch as one BEGIN IMMEDIATE transaction, as a command does. */
export function appendBatch(runtime: Runtime, requests: readonly AppendRequest[]): void {
  inWriteTransaction(runtime.db, () => runtime.store.append(requests, requestMeta(), new Date()));
}

/** Grows the log to `target` events in batches; returns the rate reached (events/s). */
export async function fillTo(
  { runtime, events }: Fixture,
  target: number,
  batch: number,
  showProgress = true,
): Promise<number> {
  const start = runtime.store.head();
  if (start >= target) return 0;
  const progress = showProgress ? stderrProgress(`filling log to ${target}`) : () => {};
  const t0 = performance.now();
  let head = start;
  let since = 0;
  while (head < target) {
    const n = Math.min(batch, target - head);
    appendBatch(runtime, events.batch(n));
    head += n;
    since += 1;
    if (since >= 100 || head >= target) {
      since = 0;
      progress(head - start, target - start);
      // Lets a pending signal handler run during long fills.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return ((head - start) / (performance.now() - t0)) * 1000;
}

/** The size of the database and its WAL, in bytes. */
export function databaseBytes(dir: string): number {
  const size = (f: string) => {
    try {
      return statSync(join(dir, f)).size;
    } catch {
      return 0;
    }
  };
  return size('server.db') + size('server.db-wal');
}

/** The file system holding `path` (fsync on tmpfs costs nothing, which changes the figures). */
export function fileSystemOf(path: string): string {
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .filter(
        (f) => f.length > 2 && (path === f[1] || path.startsWith(`${f[1]}/`) || f[1] === '/'),
      );
    mounts.sort((a, b) => b[1]!.length - a[1]!.length);
    const best = mounts[0];
    return best ? `${best[2]} (${best[0]} on ${best[1]})` : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Median time of a 4 KiB write + fdatasync in `dir`: the floor under one durable commit. */
export function fsyncLatencyMs(dir: string, rounds = 200): number {
  const file = join(dir, 'fsync-probe');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      writeSync(fd, block, 0, block.length, i * block.length);
      fdatasyncSync(fd);
      times.push(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
  return percentile(times, 50);
}

export const rssMiB = () => process.memoryUsage.rss() / 1024 / 1024;

/**
 * Runs the append and replay paths once on a throwaway data directory, so the first
 * timed window measures compiled code rather than the JIT warming up.
 */
export async function warmUp(): Promise<void> {
  const fixture = openFixture('warmup', 1);
  try {
    await fillTo(fixture, 3000, 100, false);
    for (let i = 0; i < 200; i++) appendBatch(fixture.runtime, fixture.events.batch(1));
    fixture.runtime.projector.rebuildAll();
  } finally {
    fixture.dispose();
  }
}
