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
 * Quiet time after the last request before the idle collection runs: long enough that a
 * client's pauses between requests do not trigger it, short enough to be done before the
 * sync bench reads RSS at rest (10 s). Measured there, 2 alternating runs each: 109 MiB at
 * rest after the load with 3 s, 94 and 102 MiB with 5 s.
 */
export const QUIET_MS = 5_000;

/**
 * Heap growth since the last idle collection below which it is skipped: a desktop polling
 * now and then allocates little, and a full collection every few seconds would cost CPU
 * for nothing.
 */
export const MIN_GROWTH_BYTES = 2 * 1024 * 1024;

/** V8's full collection, made callable without `--expose-gc` on the command line. */
export function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
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
  readonly minGrowthBytes?: number;
  readonly gc?: () => void;
  readonly usedHeapBytes?: () => number;
}

/**
 * Gives memory back once the server has been quiet for `quietMs` after some load: a full
 * collection, which frees what the load left unreachable and lets V8 release the young
 * generation the load grew. V8's own memory reducer does the same, but only some 8 s after
 * the last allocation and in steps, so a server at rest showed the load's RSS for tens of
 * seconds (issue 9). The collection pauses the event loop for some tens of milliseconds; a
 * request arriving right then waits that long. One timer at a time, re-armed from the timer
 * rather than per request.
 */
export function createIdleReclaimer(options: IdleReclaimerOptions = {}): IdleReclaimer {
  const quietMs = options.quietMs ?? QUIET_MS;
  const minGrowth = options.minGrowthBytes ?? MIN_GROWTH_BYTES;
  const gc = options.gc ?? exposeGc();
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

  const collect = () => {
    gc();
    usedAfterCollect = used();
  };
  const check = () => {
    timer = undefined;
    if (stopped) return;
    const quietFor = performance.now() - lastActivity;
    if (quietFor < quietMs) {
      arm(quietMs - quietFor);
      return;
    }
    if (used() - usedAfterCollect >= minGrowth) collect();
  };
  const arm = (ms: number) => {
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
