import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stderrProgress } from '../../src/cli/progress.js';
import {
  CATALOGUE,
  createEventStore,
  inWriteTransaction,
  migrateLog,
  openDatabase,
  type EventStore,
  type Sqlite,
} from '../../src/log/index.js';
import { databaseFileOf, openRuntime } from '../../src/runtime.js';
import { databaseBytes } from './fixture.js';
import { say } from './section.js';
import { buildTimeline, type Episode, type SeedShape } from './web-timeline.js';

// The web bench's data directory, seeded once per shape and kept under .bench-data/
// (gitignored): the log is appended through the event store in large transactions, then
// the projections are built by opening a runtime on it, as the server's start-up does.

/** Bump when the timeline changes what it writes: older cached directories are not reused. */
const SEED_VERSION = 1;
const TRANSACTION_EVENTS = 20_000;

export interface Seeded {
  readonly dir: string;
  readonly shape: SeedShape;
  /** When the history ends (the seed's "now"). */
  readonly end: string;
  readonly events: number;
  readonly appendSeconds: number;
  readonly projectionSeconds: number;
  readonly databaseMiB: number;
  /** False: this run seeded it. */
  readonly cached: boolean;
}

const keyOf = (s: SeedShape) =>
  `web-v${SEED_VERSION}-u${s.users}-d${s.devices}-o${s.ops}-e${s.otherEvents}`;

export interface Appended {
  readonly events: number;
  /** Each device's last push (ms). */
  readonly lastSeen: ReadonlyMap<string, number>;
}

/** Appends the episodes in order, in transactions of about TRANSACTION_EVENTS events. */
export function appendEpisodes(
  db: Sqlite,
  store: EventStore,
  timeline: readonly Episode[],
  showProgress = true,
): Appended {
  const lastSeen = new Map<string, number>();
  // Each vault's head, for the pushes' last_seen_server_seq.
  const heads = new Map<string, number>();
  const expected = timeline.reduce((n, e) => n + Math.max(1, e.ops), 0);
  const progress = showProgress ? stderrProgress(`appending ~${expected} events`) : () => {};
  let events = 0;
  let i = 0;
  while (i < timeline.length) {
    inWriteTransaction(db, () => {
      const stop = events + TRANSACTION_EVENTS;
      while (i < timeline.length && events < stop) {
        const episode = timeline[i++]!;
        const { requests, meta } = episode.emit((stream) => heads.get(stream) ?? 0);
        const recorded = store.append(requests, meta, new Date(episode.t));
        events += recorded.length;
        const last = recorded[recorded.length - 1];
        if (last?.stream.startsWith('vault/')) heads.set(last.stream, last.seq);
        if (episode.device) lastSeen.set(episode.device, episode.t);
      }
    });
    progress(Math.min(events, expected), expected);
  }
  return { events, lastSeen };
}

/** device_activity is not in the log: a device's last push stands for its last request. */
export function recordActivity(db: Sqlite, lastSeen: ReadonlyMap<string, number>) {
  const touch = db.prepare(
    'INSERT OR REPLACE INTO device_activity (device_id, last_seen, ip) VALUES (?, ?, ?)',
  );
  inWriteTransaction(db, () => {
    for (const [device, t] of lastSeen) touch.run(device, new Date(t).toISOString(), '203.0.113.9');
  });
}

export function seededDirectory(shape: SeedShape, root: string): Seeded {
  const dir = join(root, keyOf(shape));
  const marker = join(dir, 'seed.json');
  if (existsSync(marker)) {
    const seeded = JSON.parse(readFileSync(marker, 'utf8')) as Omit<Seeded, 'dir' | 'cached'>;
    say(`web: reusing ${dir} (seeded in ${seeded.appendSeconds.toFixed(0)} s + projections)`);
    return { ...seeded, dir, cached: true };
  }
  // A directory without its marker is a seed that did not finish.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const end = Date.now();
  say(`web: planning ${shape.users} users, ${shape.devices} devices, ${shape.ops} ops`);
  const timeline = buildTimeline(shape, end);
  const t0 = performance.now();
  const db = openDatabase(databaseFileOf(dir));
  let appended: Appended;
  try {
    migrateLog(db, () => 'bench0000000000000000000000000000');
    appended = appendEpisodes(db, createEventStore(db, CATALOGUE), timeline);
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  const { events, lastSeen } = appended;
  const appendSeconds = (performance.now() - t0) / 1000;
  say(`web: ${events} events appended in ${appendSeconds.toFixed(1)} s; building projections`);
  const t1 = performance.now();
  const runtime = openRuntime({
    dataDir: dir,
    onRebuildProgress: stderrProgress('building projections'),
  });
  try {
    recordActivity(runtime.db, lastSeen);
  } finally {
    runtime.close();
  }
  const projectionSeconds = (performance.now() - t1) / 1000;
  const seeded = {
    shape,
    end: new Date(end).toISOString(),
    events,
    appendSeconds,
    projectionSeconds,
    databaseMiB: databaseBytes(dir) / 1024 / 1024,
  };
  writeFileSync(marker, `${JSON.stringify(seeded, null, 2)}\n`);
  say(`web: projections built in ${projectionSeconds.toFixed(1)} s`);
  return { ...seeded, dir, cached: false };
}
