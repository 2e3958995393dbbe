import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * The page cache of the server's database connection, in KiB: SQLite's own default.
 * better-sqlite3 builds SQLite with a 16 MB default, which one pull through a large vault
 * fills; glibc then keeps those pages resident for good, freed or not (issue 9: 15 of the
 * 25 MiB the server's malloc heap held at rest after the sync bench, and as much of its
 * peak). A page not cached is a pread from the OS's file cache; on the sync bench the push
 * and pull CPU per op stayed within the machine's noise.
 */
export const SERVER_SQLITE_CACHE_KIB = 2048;

/**
 * Quiet time after the last request before the reclaimer starts: long enough that a
 * client's pauses between requests do not trigger it.
 */
export const QUIET_MS = 2_500;

/**
 * V8's window for the allocation rate it judges at each collection (GCTracer's 5 s). V8
 * shrinks a grown young generation only in a collection that sees a low rate, so the
 * reclaimer first runs a scavenge, which closes V8's sample of the load, and the full
 * collection only once this window has passed without requests. Run at once, the full
 * collection saw the end of the load in that window whenever the young generation was more
 * than half full then, and the young generation (8 MiB) stayed until V8's memory reducer ran
 * 8 s later (issue 9: in 3 of 8 sync bench runs, 93–95 MiB at rest 10 s after the load
 * against 86.5–87.5). Scavenge and collection are done 7.5 s after the last request, before
 * the bench reads RSS at rest (10 s).
 */
export const SAMPLE_WINDOW_MS = 5_000;

/**
 * Heap growth since the last idle collection below which it is skipped: a desktop polling
 * now and then allocates little, and a full collection every few seconds would cost CPU
 * for nothing.
 */
export const MIN_GROWTH_BYTES = 2 * 1024 * 1024;

/** Releases after a collection's own, one per quiet period (see IdleReclaimerOptions.release). */
export const RELEASE_REPEATS = 3;

/** V8's full collection, made callable without `--expose-gc` on the command line. */
export function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** V8's young-generation collection (a scavenge), through the same function as exposeGc's. */
export function exposeScavenge(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
  return () => gc({ type: 'minor' });
}

/**
 * Full collections that also compact the old generation, as V8 does when it optimizes for
 * memory: pages left mostly empty by what a load (or the start-up) allocated are evacuated
 * and given back instead of being kept with their holes. V8 reads `--optimize-for-size` at
 * each collection, so it is on only for these. A plain collection kept 3–5 MiB more of the
 * heap resident until V8's memory reducer ran some 8 s later (issue 9). Compacting every
 * page (`--compact-on-every-full-gc`) gave back about as much but copied all that is live at
 * once, which cost the sync bench 15 MiB more peak RSS; this way moves at most some MiB
 * per collection, and the second collection continues where the first stopped. Both take
 * some tens of milliseconds on a 25–80 MiB heap. An operator's own `--optimize-for-size`
 * is left as it is.
 */
export function exposeCompactingGc(): () => void {
  const gc = exposeGc();
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  if (given.includes('optimize-for-size') || given.includes('optimize_for_size')) {
    return () => {
      gc();
      gc();
    };
  }
  return () => {
    setFlagsFromString('--optimize-for-size');
    try {
      gc();
      gc();
    } finally {
      setFlagsFromString('--no-optimize-for-size');
    }
  };
}

export interface IdleReclaimer {
  /** Called on each request: postpones the collection until requests stop. */
  readonly activity: () => void;
  /** Runs the collection now (after start-up: what loading the modules left behind). */
  readonly collect: () => void;
  readonly stop: () => void;
}

export interface IdleReclaimerOptions {
  readonly quietMs?: number;
  readonly sampleWindowMs?: number;
  readonly minGrowthBytes?: number;
  /** The full collection (default: exposeCompactingGc's). */
  readonly gc?: () => void;
  /** V8's young-generation collection (default: V8's, through exposeGc). */
  readonly scavenge?: () => void;
  readonly usedHeapBytes?: () => number;
  /**
   * Run after each collection and again after each of the next RELEASE_REPEATS quiet
   * periods: hands back memory that is not V8's (SQLite's cache, the C library's free pages;
   * see malloc-trim.ts). The repeats catch what the WAL checkpoint worker frees when it
   * retires, 5 s or more after the last commit.
   */
  readonly release?: () => void;
}

/**
 * Gives memory back once the server has been quiet after some load: a scavenge after
 * `quietMs`, then, after a further `sampleWindowMs` still without requests, full
 * collections that free what the load left unreachable, compact the old generation and let
 * V8 shrink the young generation the load grew (see SAMPLE_WINDOW_MS); then `release`. V8's
 * own memory reducer does the same, but only some 8 s after the last allocation and in
 * steps, so a server at rest showed the load's RSS for tens of seconds (issue 9). The
 * collections pause the event loop for some tens of milliseconds; a request arriving right
 * then waits that long. One timer at a time, re-armed from the timer rather than per request.
 */
export function createIdleReclaimer(options: IdleReclaimerOptions = {}): IdleReclaimer {
  const quietMs = options.quietMs ?? QUIET_MS;
  const windowMs = options.sampleWindowMs ?? SAMPLE_WINDOW_MS;
  const minGrowth = options.minGrowthBytes ?? MIN_GROWTH_BYTES;
  const gc = options.gc ?? exposeCompactingGc();
  const scavenge = options.scavenge ?? exposeScavenge();
  const release = options.release ?? (() => undefined);
  const used =
    options.usedHeapBytes ??
    (() => {
      const heap = getHeapStatistics();
      return Math.max(heap.used_heap_size, heap.total_physical_size);
    });
  let lastActivity = 0;
  let timer: NodeJS.Timeout | undefined;
  let usedAfterCollect = used();
  let stopped = false;
  let releasesLeft = 0;
  /** When the scavenge before a pending collection ran. */
  let scavengedAt: number | undefined;

  const collect = () => {
    gc();
    release();
    usedAfterCollect = used();
    releasesLeft = RELEASE_REPEATS;
    if (!stopped) arm(quietMs);
  };
  const check = () => {
    timer = undefined;
    if (stopped) return;
    const now = performance.now();
    const quietFor = now - lastActivity;
    if (quietFor < quietMs) {
      arm(quietMs - quietFor);
      return;
    }
    if (scavengedAt !== undefined && lastActivity < scavengedAt) {
      const waited = now - scavengedAt;
      if (waited < windowMs) {
        arm(windowMs - waited);
        return;
      }
      scavengedAt = undefined;
      collect();
      return;
    }
    scavengedAt = undefined;
    if (used() - usedAfterCollect >= minGrowth) {
      scavenge();
      scavengedAt = performance.now();
      arm(windowMs);
    } else if (releasesLeft > 0) {
      releasesLeft -= 1;
      release();
      if (releasesLeft > 0) arm(quietMs);
    }
  };
  const arm = (ms: number) => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(check, ms);
    timer.unref();
  };
  return {
    activity() {
      lastActivity = performance.now();
      if (timer === undefined && !stopped) arm(quietMs);
    },
    collect,
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
