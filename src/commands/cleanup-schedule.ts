import type { Clock } from '../clock.js';
import type { Cleanup, CleanupReport } from './cleanup-service.js';

export interface CleanupSchedule {
  /** Cancels the next run and waits for one under way. */
  stop(): Promise<void>;
}

/**
 * Runs the retention cleanup once right away (CONTRACT.md §13: at startup) and then every
 * `intervalMs` after the previous run ended, so slow runs never overlap. `intervalMs` 0
 * (`retention.cleanup_interval_hours: 0`) turns the schedule off. A failed run is
 * reported and the schedule goes on: the next run retries whatever was left.
 */
export function startCleanupSchedule(deps: {
  cleanup: Pick<Cleanup, 'run'>;
  clock: Clock;
  intervalMs: number;
  onReport?: (report: CleanupReport) => void;
  onError: (err: unknown) => void;
}): CleanupSchedule {
  const { cleanup, clock, intervalMs, onReport, onError } = deps;
  if (!(intervalMs > 0)) return { stop: async () => undefined };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;

  const tick = () => {
    timer = undefined;
    current = cleanup
      .run(clock.now())
      .then((report) => onReport?.(report), onError)
      .finally(() => {
        current = undefined;
        if (!stopped) arm(intervalMs);
      });
  };
  const arm = (delay: number) => {
    timer = setTimeout(tick, delay);
    // A pending cleanup must not keep a stopping process alive.
    timer.unref();
  };
  arm(0);

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
