interface Window {
  readonly start: number;
  count: number;
  /** Requests refused in this window; the first one is the lockout. */
  refused: number;
}

export type Hit =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** Whole seconds until the window ends, at least 1. */
      readonly retryAfter: number;
      /** The first refusal of this window: the lockout itself. */
      readonly lockout: boolean;
    };

export type BudgetTable = ReturnType<typeof createBudgetTable>;

/**
 * Fixed-window budgets (`limit` allowed requests per `windowMs`) for at most `capacity` keys,
 * built so that a flood cannot turn the eviction against the limits:
 * - a refused request inserts, refreshes and moves nothing;
 * - a key that has used its whole budget is pinned until its window ends and is never
 *   evicted; only keys still within their budget are, the least recently *allowed* first;
 * - with every slot pinned, new keys share one overflow budget instead of pushing anyone out.
 */
export function createBudgetTable(limit: number, windowMs: number, capacity: number) {
  // Maps keep insertion order: re-inserting on each allowed request keeps `open` in LRU order.
  const open = new Map<string, Window>();
  const pinned = new Map<string, Window>();
  let overflow: Window | undefined;

  const live = (w: Window, now: number) => now - w.start < windowMs;

  const refuse = (w: Window, now: number): Hit => {
    w.refused += 1;
    const retryAfter = Math.max(1, Math.ceil((w.start + windowMs - now) / 1000));
    return { allowed: false, retryAfter, lockout: w.refused === 1 };
  };

  const count = (w: Window, now: number): Hit => {
    if (w.count >= limit) return refuse(w, now);
    w.count += 1;
    return { allowed: true };
  };

  const makeRoom = (now: number): boolean => {
    if (open.size + pinned.size < capacity) return true;
    // Pinned in the order their budgets ran out, which is close to the order they end.
    for (const [key, w] of pinned) {
      if (live(w, now)) break;
      pinned.delete(key);
    }
    if (open.size + pinned.size < capacity) return true;
    const oldest = open.keys().next();
    if (oldest.done) return false;
    open.delete(oldest.value);
    return true;
  };

  return {
    hit(key: string, now: number): Hit {
      const held = pinned.get(key);
      if (held && live(held, now)) return refuse(held, now);
      if (held) pinned.delete(key);
      let w = open.get(key);
      if (w && !live(w, now)) {
        open.delete(key);
        w = undefined;
      }
      if (!w) {
        if (!makeRoom(now)) {
          if (!overflow || !live(overflow, now)) overflow = { start: now, count: 0, refused: 0 };
          return count(overflow, now);
        }
        w = { start: now, count: 0, refused: 0 };
      }
      const hit = count(w, now);
      open.delete(key);
      if (w.count >= limit) pinned.set(key, w);
      else open.set(key, w);
      return hit;
    },
    get size() {
      return open.size + pinned.size;
    },
  };
}
