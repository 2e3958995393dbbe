import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';

const MINUTE = 60_000;

/** CONTRACT.md §6: fixed windows, per client IP and per account string. */
export const RATE_RULES = {
  pair: { limit: 5, windowMs: 15 * MINUTE },
  'device-register': { limit: 5, windowMs: 15 * MINUTE },
  'auth-test': { limit: 10, windowMs: 10 * MINUTE },
  login: { limit: 10, windowMs: 10 * MINUTE },
  register: { limit: 5, windowMs: 60 * MINUTE },
  forgot: { limit: 5, windowMs: 60 * MINUTE },
  reset: { limit: 8, windowMs: 60 * MINUTE },
  'admin-reset': { limit: 8, windowMs: 60 * MINUTE },
} as const;

export type RateAction = keyof typeof RATE_RULES;

interface Bucket {
  windowStart: number;
  count: number;
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

/** Told of each refused attempt (the audit counts them; nothing is logged per attempt). */
export type OnRateLimited = (action: RateAction, ip: string, account: string | undefined) => void;

export function createRateLimiter(
  clock: Clock,
  maxBuckets = 10_000,
  onRefused: OnRateLimited = () => {},
) {
  // A Map keeps insertion order: re-inserting on use makes the first key the least recent.
  const buckets = new Map<string, Bucket>();

  const hit = (key: string, limit: number, windowMs: number, now: number): number => {
    let bucket = buckets.get(key);
    if (!bucket || now - bucket.windowStart >= windowMs) bucket = { windowStart: now, count: 0 };
    bucket.count += 1;
    buckets.delete(key);
    buckets.set(key, bucket);
    while (buckets.size > maxBuckets) buckets.delete(buckets.keys().next().value as string);
    if (bucket.count <= limit) return 0;
    return Math.max(1, Math.ceil((bucket.windowStart + windowMs - now) / 1000));
  };

  return {
    /**
     * Counts one attempt (successful ones too) against the IP bucket and, when given, the
     * account bucket keyed by the trimmed, lower-cased login; throws 429 past the limit.
     */
    check(action: RateAction, ip: string, account?: string): void {
      const { limit, windowMs } = RATE_RULES[action];
      const now = clock.now().getTime();
      let retryAfter = hit(`${action}|ip|${ip}`, limit, windowMs, now);
      if (account !== undefined) {
        // A digest keeps every bucket key small whatever length of login is sent.
        const key = createHash('sha256').update(account.trim().toLowerCase()).digest('base64url');
        retryAfter = Math.max(retryAfter, hit(`${action}|acct|${key}`, limit, windowMs, now));
      }
      if (retryAfter > 0) {
        onRefused(action, ip, account);
        throw new AppError(429, 'rate_limited', 'too many attempts', {
          'retry-after': String(retryAfter),
        });
      }
    },
    get size() {
      return buckets.size;
    },
  };
}
