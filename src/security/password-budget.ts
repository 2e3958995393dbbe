import type { Clock } from '../clock.js';
import { rateLimited, type OnRateLimited } from './rate-refusal.js';
import { sha256Hex, type Sqlite } from '../log/index.js';
import { normaliseTyped, type TypedDigest } from './typed-digest.js';

const MINUTE = 60_000;

/**
 * Failed password checks allowed per account, over sliding windows (RELIABILITY.md §2.3):
 * a short lock after a burst, and ASVS 4.0.3 2.2.1's ceiling of 100 an hour, which holds
 * over every hour-long span whatever the schedule, the clients or the actions.
 */
export const PASSWORD_BUDGET = [
  { failures: 10, windowMs: 15 * MINUTE },
  { failures: 100, windowMs: 60 * MINUTE },
] as const;

const LONGEST_MS = Math.max(...PASSWORD_BUDGET.map((t) => t.windowMs));
const MOST_FAILURES = Math.max(...PASSWORD_BUDGET.map((t) => t.failures));
/** Accounts whose failures are held in memory while the database refuses writes. */
const UNSAVED_ACCOUNTS = 10_000;
/** Writes between sweeps of the whole table. */
const PRUNE_EVERY = 256;

/**
 * Failures kept for names that match no account. Guessing at an unknown name is limited like
 * at a real one, so the lock does not tell which names exist; past this many rows the oldest
 * go, so a stream of made-up names cannot grow the table without bound. Dropping them frees
 * no real account's budget (those are keyed by user id or admin name).
 */
export const UNKNOWN_NAME_ROWS = 100_000;

/** Whose budget a password check spends. */
export type BudgetKey = `user:${string}` | `admin:${string}` | `name:${string}`;

export const userBudget = (userId: string): BudgetKey => `user:${userId}`;
export const adminBudget = (username: string): BudgetKey => `admin:${username}`;
/**
 * A digest: the typed text itself is never stored. Keyed (typed-digest.ts) where the
 * runtime has the key, since a password typed as a login would fall to a dictionary
 * against a plain hash; a plain sha256 only where no key can be had.
 */
export const unknownNameBudget = (typed: string, digest?: TypedDigest): BudgetKey =>
  `name:${digest?.(typed) ?? sha256Hex(normaliseTyped(typed)).slice(0, 32)}`;

/** A bookkeeping table beside the log (like device_activity): not an event, not replayed. */
const DDL = `
CREATE TABLE IF NOT EXISTS password_failures (
  id INTEGER PRIMARY KEY,
  account TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS password_failures_account ON password_failures (account, at);
`;

/**
 * Forgets an account's failures (a completed password reset: they were guesses at a password
 * that no longer exists, and the owner may sign in at once). Runs in the caller's transaction.
 */
export function forgetPasswordFailures(db: Sqlite, account: BudgetKey): void {
  db.prepare('DELETE FROM password_failures WHERE account = ?').run(account);
}

export interface PasswordCheckContext {
  /** The action, for the audit counter and the log's summary. */
  readonly action: string;
  readonly ip?: string | undefined;
  readonly typed?: string | undefined;
}

export type PasswordBudget = ReturnType<typeof createPasswordBudget>;

/**
 * The per-account budget of failed password checks, kept in the database so that a restart
 * keeps it and no client traffic can evict it: one row per failure in the last hour.
 */
export function createPasswordBudget(deps: {
  db: Sqlite;
  clock: Clock;
  /** Each request refused because the account's budget is spent. */
  onRefused?: OnRateLimited;
  /** The failure that spends the budget. */
  onLockout?: OnRateLimited;
  /** Keys the names that match no account (see unknownNameBudget). */
  digestTyped?: TypedDigest;
}) {
  const { db, clock } = deps;
  db.exec(DDL);
  const recent = db.prepare<[string, number, number], { at: number }>(
    'SELECT at FROM password_failures WHERE account = ? AND at > ? ORDER BY at DESC LIMIT ?',
  );
  const insert = db.prepare<[string, number]>(
    'INSERT INTO password_failures (account, at) VALUES (?, ?)',
  );
  const pruneAccount = db.prepare<[string, number]>(
    'DELETE FROM password_failures WHERE account = ? AND at <= ?',
  );
  const pruneAll = db.prepare<[number]>('DELETE FROM password_failures WHERE at <= ?');
  const unknownRows = db.prepare<[], { n: number }>(
    "SELECT COUNT(*) AS n FROM password_failures WHERE account >= 'name:' AND account < 'name;'",
  );
  const dropOldestUnknown = db.prepare<[number]>(
    `DELETE FROM password_failures WHERE id IN (SELECT id FROM password_failures
       WHERE account >= 'name:' AND account < 'name;' ORDER BY id LIMIT ?)`,
  );
  let writes = 0;
  /**
   * Checks running now, per account: counted as failures until they end, so that concurrent
   * guesses cannot overrun the budget while argon2 works. Kept in memory (one process owns
   * the database file); only failures are written, so a good password costs no write.
   */
  const running = new Map<string, number>();
  /**
   * Failures the database would not take (disk full, I/O error), kept in memory: a storage
   * fault must not open an unlimited guessing window (a right password needs no write and
   * would still be told apart). Bounded like any in-memory table.
   */
  const unsaved = new Map<string, number[]>();

  /** Seconds until the account may try again; 0 when it may now. */
  const waitFor = (account: BudgetKey, now: number): number => {
    const inFlight = running.get(account) ?? 0;
    const stored = recent.all(account, now - LONGEST_MS, MOST_FAILURES).map((r) => r.at);
    const lost = (unsaved.get(account) ?? []).filter((at) => at > now - LONGEST_MS);
    const ats = [...Array<number>(inFlight).fill(now), ...stored, ...lost].sort((a, b) => b - a);
    let until = 0;
    for (const { failures, windowMs } of PASSWORD_BUDGET) {
      // The oldest failure that still fills this tier: the budget frees up when it leaves.
      const nth = ats[failures - 1];
      if (nth !== undefined && nth > now - windowMs) until = Math.max(until, nth + windowMs);
    }
    return until > now ? Math.max(1, Math.ceil((until - now) / 1000)) : 0;
  };

  const recordFailure = db.transaction((account: BudgetKey, at: number) => {
    pruneAccount.run(account, at - LONGEST_MS);
    // Now and then the rows of accounts nobody tries any more go too, and the unknown
    // names' rows are cut back to their bound.
    if (++writes % PRUNE_EVERY === 0) {
      pruneAll.run(at - LONGEST_MS);
      const excess = unknownRows.get()!.n - UNKNOWN_NAME_ROWS;
      if (excess > 0) dropOldestUnknown.run(excess);
    }
    insert.run(account, at);
  });

  const remember = (account: BudgetKey, at: number) => {
    const kept = (unsaved.get(account) ?? []).filter((t) => t > at - LONGEST_MS);
    unsaved.delete(account);
    unsaved.set(account, [...kept, at].slice(-MOST_FAILURES));
    if (unsaved.size > UNSAVED_ACCOUNTS) unsaved.delete(unsaved.keys().next().value!);
  };

  return {
    /** The budget of a name that matches no account. */
    unknownName: (typed: string): BudgetKey => unknownNameBudget(typed, deps.digestTyped),
    /**
     * Runs one password check against `account`'s budget: 429 while it is spent; otherwise
     * the check runs, and counts as a failure unless `passed` says it passed.
     */
    async spend<T>(
      account: BudgetKey,
      context: PasswordCheckContext,
      check: () => Promise<T>,
      passed: (outcome: T) => boolean,
    ): Promise<T> {
      const now = clock.now().getTime();
      const base = {
        action: context.action,
        scope: 'account' as const,
        ip: context.ip,
        key: account,
        account: context.typed,
        userId: account.startsWith('user:') ? account.slice(5) : undefined,
      };
      const retryAfter = waitFor(account, now);
      if (retryAfter > 0) {
        deps.onRefused?.({ ...base, retryAfter, lockout: false });
        throw rateLimited(retryAfter);
      }
      running.set(account, (running.get(account) ?? 0) + 1);
      let outcome: T;
      try {
        outcome = await check();
      } finally {
        const left = running.get(account)! - 1;
        if (left > 0) running.set(account, left);
        else running.delete(account);
      }
      if (passed(outcome)) return outcome;
      try {
        recordFailure(account, now);
      } catch (err) {
        remember(account, now);
        throw err;
      }
      // This failure spent the budget: the lockout, told once (RELIABILITY.md §2.3).
      const locked = waitFor(account, clock.now().getTime());
      if (locked > 0) deps.onLockout?.({ ...base, retryAfter: locked, lockout: true });
      return outcome;
    },
    /** Failures counted against `account` in the last hour. */
    failures(account: BudgetKey): number {
      const now = clock.now().getTime();
      return recent.all(account, now - LONGEST_MS, Number.MAX_SAFE_INTEGER).length;
    },
  };
}
