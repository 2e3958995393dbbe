import { hash } from 'node:crypto';
import { join } from 'node:path';
import { stderrProgress } from '../../src/cli/progress.js';
import { CATALOGUE, OperationPushed, type AppendRequest } from '../../src/log/index.js';
import { replayProjections, type ReplayReport } from '../../src/projections/rebuild.js';
import type { Runtime } from '../../src/runtime.js';
import { appendBatch, databaseBytes, fillTo, openFixture, rssMiB, warmUp } from './fixture.js';
import { timed } from './stats.js';
import { say, type BenchOptions, type Section, type SectionResult } from './section.js';

// Filling is not what this section measures, so it uses larger transactions.
const FILL_BATCH = 1000;
// Pushed ops: one vault of this many files, each op rewrites one (content inline, as the
// desktop pushes notes), a push being one append of this many ops by one of three devices.
const FILES = 1000;
export const PUSH = 100;
const CONTENT = 'lorem ipsum dolor sit amet '.repeat(10);

/** Batches of OperationPushed events in one vault stream, as pushes append them. */
export function pushedOps() {
  const stream = 'vault/0123456789abcdef01234567/notes';
  let version = 0;
  let n = 0;
  return (size: number): AppendRequest => {
    const events = Array.from({ length: size }, () => {
      n += 1;
      const device = `device-${n % 3}`;
      const path = `Notes/topic-${n % 20}/note-${n % FILES}.md`;
      const content = `${path} revision ${n}\n${CONTENT}`;
      const payload = { path, contentHash: hash('sha256', content, 'hex'), content };
      return {
        type: OperationPushed.type,
        data: {
          client_sequence: n,
          last_seen_server_seq: 0,
          conflicts: [],
          op: {
            op_id: `${device}-op-${n}`,
            device_id: device,
            entity_type: 'file',
            entity_id: path,
            op_type: n <= FILES ? 'create' : 'update',
            payload_json: JSON.stringify(payload),
            created_at: '2026-12-01T09:00:00Z',
          },
        },
      };
    });
    const request = { stream, expectedVersion: version, events };
    version += size;
    return request;
  };
}

/** Appends pushes of `PUSH` ops in transactions of `FILL_BATCH` until the log holds `size`. */
export async function fillWithPushedOps(
  runtime: Runtime,
  nextPush: ReturnType<typeof pushedOps>,
  size: number,
): Promise<void> {
  const progress = stderrProgress(`filling log to ${size}`);
  for (let head = runtime.store.head(); head < size;) {
    const requests: AppendRequest[] = [];
    for (let k = 0; k < FILL_BATCH && head < size; k += PUSH) {
      const n = Math.min(PUSH, size - head);
      requests.push(nextPush(n));
      head += n;
    }
    appendBatch(runtime, requests);
    progress(head, size);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

type Workload = 'registrations' | 'pushed ops';

async function run(options: BenchOptions): Promise<SectionResult> {
  await warmUp();
  const rows: Record<string, number | string>[] = [];
  for (const workload of ['pushed ops', 'registrations'] as Workload[]) {
    const fixture = openFixture('replay', options.eventsPerStream);
    try {
      const { runtime, dir } = fixture;
      const nextPush = pushedOps();
      for (const size of options.sizes) {
        say(`replay: growing the log to ${size} ${workload} (batch ${FILL_BATCH})`);
        if (workload === 'registrations') await fillTo(fixture, size, FILL_BATCH);
        else await fillWithPushedOps(runtime, nextPush, size);
        // A replay normally starts after a restart, with the WAL folded into the database.
        runtime.db.pragma('wal_checkpoint(TRUNCATE)');
        const dbBytes = databaseBytes(dir);
        say(`replay: replaying ${size} ${workload} (rebuild aside, then swap)`);
        let report: ReplayReport | undefined;
        const { ms, cpuPercent, writtenMiB } = timed(() => {
          report = replayProjections(runtime, {
            scratchDir: join(dir, 'tmp'),
            check: false,
            catalogue: CATALOGUE,
            onProgress: stderrProgress(`replaying ${size} events`),
          });
        });
        const rebuildSeconds = report!.rebuildSeconds;
        const [table, expected] =
          workload === 'registrations' ? ['users', size] : ['vault_ops', size];
        const count = runtime.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
        if (count !== expected) {
          throw new Error(`replay built ${count} ${table} rows from ${size} ${workload}`);
        }
        rows.push({
          workload,
          events: size,
          seconds: ms / 1000,
          rate: (size / ms) * 1000,
          rebuildRate: size / rebuildSeconds,
          copy: report!.buildTimes.copySeconds,
          load: report!.buildTimes.loadSeconds,
          index: report!.buildTimes.indexSeconds,
          swap: ms / 1000 - rebuildSeconds,
          staging: report!.swap?.stagingSeconds ?? 0,
          cleanup: report!.swap?.cleanupSeconds ?? 0,
          swapLock: report!.swap?.swapLockSeconds ?? 0,
          longestLock: report!.swap?.longestLockSeconds ?? 0,
          cpu: cpuPercent,
          written: writtenMiB,
          db: dbBytes / 1024 / 1024,
          perEvent: Math.round(dbBytes / size),
          rss: rssMiB(),
        });
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      fixture.dispose();
    }
  }
  return {
    name: 'replay',
    title: 'Replay (replayProjections: rebuild every projection aside from seq 0, then swap in)',
    notes: [
      'registrations: each UserRegistered event opens its own stream user/<id>; checked: one users row each',
      `pushed ops: OperationPushed in one vault stream, pushes of ${PUSH} ops by 3 devices over ${FILES} files, ~${CONTENT.length + 60} B of content inline; checked: one vault_ops row each`,
      'events/s: the whole replay (copy of the log, rebuild, swap); rebuild events/s: without the swap',
      'copy s, load s, index s: the parts of the rebuild: the log copied into the scratch, read and applied, then the bulk hooks ended and the deferred indexes of the small tables built',
      'swap s: the rest: large tables staged beside the live ones and their deferred indexes built there, each in a transaction of its own (stage s), the swap, the old rows removed in short transactions (clean-up s)',
      'swap lock s: the swap transaction (renames, small tables refilled, catch-up); longest lock s: the longest write transaction of the whole swap (a server waits at most this long)',
      'the log was just written, so it is in the page cache (a warm replay)',
      'MiB written: bytes the process sent to storage during the replay, from /proc/self/io',
    ],
    columns: [
      { key: 'workload', label: 'log of', format: 'text' },
      { key: 'events', label: 'log events', format: 'count' },
      { key: 'seconds', label: 's', format: 'seconds' },
      { key: 'rate', label: 'events/s', format: 'rate' },
      { key: 'rebuildRate', label: 'rebuild events/s', format: 'rate' },
      { key: 'copy', label: 'copy s', format: 'seconds' },
      { key: 'load', label: 'load s', format: 'seconds' },
      { key: 'index', label: 'index s', format: 'seconds' },
      { key: 'swap', label: 'swap s', format: 'seconds' },
      { key: 'staging', label: 'stage s', format: 'seconds' },
      { key: 'cleanup', label: 'clean-up s', format: 'seconds' },
      { key: 'swapLock', label: 'swap lock s', format: 'seconds' },
      { key: 'longestLock', label: 'longest lock s', format: 'seconds' },
      { key: 'cpu', label: 'CPU %', format: 'count' },
      { key: 'written', label: 'MiB written', format: 'count' },
      { key: 'db', label: 'db MiB', format: 'decimal' },
      { key: 'perEvent', label: 'bytes/event', format: 'count' },
      { key: 'rss', label: 'RSS MiB', format: 'decimal' },
    ],
    rows,
  };
}

export const replaySection: Section = {
  name: 'replay',
  description: 'replay throughput (rebuild aside + swap) over logs of pushed ops and registrations',
  run,
};
