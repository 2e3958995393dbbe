import argon2 from 'argon2';
import { AppError } from '../errors.js';

/** OWASP's second argon2id profile: m=19 MiB, t=2, p=1 (about 30 ms per hash here). */
export const ARGON2_OPTIONS = {
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** Always runs argon2, against a fixed dummy hash when there is no stored one. */
  verify(storedHash: string | undefined, password: string): Promise<boolean>;
  /** The queue's figures for the metrics; a hasher without a queue (tests) has none. */
  stats?(): HasherStats;
}

export interface HasherStats {
  readonly running: number;
  readonly queued: number;
  /** Requests refused (503 server_busy) because the queue was full, since start. */
  readonly shed: number;
}

export interface HasherLimits {
  /** Hashes running at once; kept below the libuv pool (4) so file I/O is not starved. */
  readonly maxConcurrent: number;
  /** Hash requests allowed to wait; beyond it the request is refused with 503. */
  readonly maxQueued: number;
}

export function createPasswordHasher(
  limits: HasherLimits = { maxConcurrent: 2, maxQueued: 64 },
): PasswordHasher {
  let running = 0;
  let shed = 0;
  const waiting: (() => void)[] = [];
  let dummyHash: Promise<string> | undefined;

  const withSlot = async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= limits.maxConcurrent) {
      if (waiting.length >= limits.maxQueued) {
        shed += 1;
        throw new AppError(503, 'server_busy', 'server busy, try again', { 'retry-after': '1' });
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      running += 1;
    }
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };

  return {
    hash: (password) => withSlot(() => argon2.hash(password, ARGON2_OPTIONS)),
    async verify(storedHash, password) {
      dummyHash ??= argon2.hash('verstak-dummy-password', ARGON2_OPTIONS);
      const target = storedHash ?? (await dummyHash);
      const ok = await withSlot(() => argon2.verify(target, password).catch(() => false));
      return ok && storedHash !== undefined;
    },
    stats: () => ({ running, queued: waiting.length, shed }),
  };
}
