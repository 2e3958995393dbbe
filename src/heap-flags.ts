import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * V8's heap sizing for a server meant to fit a 512 MiB VPS (issue 9). V8 sizes its heap for
 * the machine: on a few GiB it lets the young generation grow to two 16 MiB semi-spaces and
 * the old generation to several times what is live before a full collection, and the
 * process keeps those pages resident. Both flags are ones V8 reads whenever it resizes, so
 * they take effect when set from inside the process, before the modules are loaded (loading
 * them is what first grows the heap); the bin runs `node <file>`, so a command line is not ours.
 * - the young generation stays at its initial 1 MiB semi-spaces while the server starts
 *   (1 = never grow; V8's floor), and later grows to YOUNG_GENERATION_CAP_MIB at most;
 * - the old generation may grow to 1.5 times what survived the last full collection.
 */
export const SERVER_HEAP_FLAGS = ['--semi-space-growth-factor=1', '--heap-growing-percent=50'];

/**
 * The young generation (both semi-spaces) of a running server. Kept at 2 × 1 MiB, the push and
 * pull paths cost measurably more CPU (objects of requests in flight are promoted, and the old
 * generation is collected more often). 2 × 8 MiB costs a page of 1000 ops some 23% less
 * server CPU than 2 × 4 (sync bench, median of 3 alternating runs each: 2343 against 3035
 * µs). Once grown, V8 keeps it through the load and gives it back only in a full collection
 * that sees a low allocation rate, which the idle reclaimer arranges at rest
 * (idle-memory.ts, SAMPLE_WINDOW_MS); the cap bounds what it costs at the peak (2 × 16 MiB
 * cost 9–17 MiB more there).
 */
export const YOUNG_GENERATION_CAP_MIB = 8;

/** Whether `args` (argv after the script) run the server: `serve` is the default command. */
export function runsServer(args: readonly string[]): boolean {
  const first = args[0];
  return first === undefined || first === 'serve' || first.startsWith('-');
}

/**
 * Applies SERVER_HEAP_FLAGS when the server is started; CLI commands (replay, verify, a
 * restore) keep V8's defaults.
 */
export function applyServerHeapFlags(args: readonly string[]): void {
  if (runsServer(args)) setServerHeapFlags();
}

/**
 * Sets SERVER_HEAP_FLAGS, unless an operator sized the heap on node's command line or in
 * NODE_OPTIONS. Called again each time a worker thread starts: creating an isolate puts
 * V8's process-wide semi-space growth factor back to at least 2.
 */
export function setServerHeapFlags(): void {
  if (operatorSizedHeap()) return;
  for (const flag of SERVER_HEAP_FLAGS) setFlagsFromString(flag);
}

/**
 * Once the server has started: lets the young generation grow again, up to
 * YOUNG_GENERATION_CAP_MIB. V8 has no cap to set at run time, so after each collection the
 * growth factor is put back to 2 below the cap and to 1 at it (V8 grows a step at a time).
 */
export function capYoungGeneration(): void {
  if (operatorSizedHeap()) return;
  const adjust = () => {
    const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    const full = (young?.space_size ?? 0) >= YOUNG_GENERATION_CAP_MIB * 1024 * 1024;
    setFlagsFromString(`--semi-space-growth-factor=${full ? 1 : 2}`);
  };
  new PerformanceObserver(adjust).observe({ entryTypes: ['gc'] });
  adjust();
}

function operatorSizedHeap(): boolean {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  return /semi-space|heap-growing|max-old-space|max-heap-size/.test(given);
}
