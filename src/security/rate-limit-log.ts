import type { RateRefusal } from './rate-refusal.js';

/** Lockouts named one by one in a summary; past it they are only counted. */
const LISTED_LOCKOUTS = 20;

export interface RateLimitSummary {
  /** Refused requests by `scope:action`. */
  readonly refused: Record<string, number>;
  readonly lockouts: number;
  readonly locked: { action: string; scope: string; key: string; retry_after: number }[];
}

export type RateLimitLog = ReturnType<typeof createRateLimitLog>;

/**
 * What the operator's log says about rate limits: one summary line per interval instead of
 * a line per refused request, which a flood would turn into a flood of lines. Lockouts (a
 * budget running out) are named, the first LISTED_LOCKOUTS of each interval.
 */
export function createRateLimitLog() {
  let refused = new Map<string, number>();
  // Never drained: the metrics' counters (by `scope:action`, a bounded set of keys).
  const totals = new Map<string, number>();
  let lockouts = 0;
  let locked: RateLimitSummary['locked'] = [];

  return {
    refused(r: RateRefusal): void {
      const key = `${r.scope}:${r.action}`;
      refused.set(key, (refused.get(key) ?? 0) + 1);
      totals.set(key, (totals.get(key) ?? 0) + 1);
    },
    lockout(r: RateRefusal): void {
      lockouts += 1;
      if (locked.length < LISTED_LOCKOUTS) {
        locked.push({ action: r.action, scope: r.scope, key: r.key, retry_after: r.retryAfter });
      }
    },
    /** Refused requests by `scope:action` since start. */
    totals: (): ReadonlyMap<string, number> => totals,
    /** The summary since the last call, undefined when nothing happened. */
    drain(): RateLimitSummary | undefined {
      if (refused.size === 0 && lockouts === 0) return undefined;
      const summary = { refused: Object.fromEntries(refused), lockouts, locked };
      refused = new Map();
      lockouts = 0;
      locked = [];
      return summary;
    },
  };
}
