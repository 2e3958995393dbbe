import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { AppError } from '../../src/errors.js';
import { openDatabase, type Sqlite } from '../../src/log/index.js';
import {
  PASSWORD_BUDGET,
  UNKNOWN_NAME_ROWS,
  createPasswordBudget,
  unknownNameBudget,
  userBudget,
  type BudgetKey,
} from '../../src/security/password-budget.js';
import type { RateRefusal } from '../../src/security/rate-refusal.js';
import { createTypedDigest } from '../../src/security/typed-digest.js';

const MINUTE = 60_000;
const START = '2026-12-04T10:00:00.000Z';

let open: Sqlite[] = [];
let dirs: string[] = [];
afterEach(() => {
  for (const db of open) if (db.open) db.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  open = [];
  dirs = [];
});

function openDb(dir?: string) {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'vss-budget-'));
  if (!dir) dirs.push(d);
  const db = openDatabase(join(d, 'server.db'));
  open.push(db);
  return { dir: d, db };
}

type Budget = ReturnType<typeof createPasswordBudget>;

/** One password check: 'pass', 'fail', or the Retry-After of a 429. */
async function guess(
  budget: Budget,
  key: BudgetKey,
  right = false,
): Promise<'pass' | 'fail' | number> {
  try {
    const ok = await budget.spend(
      key,
      { action: 'login' },
      async () => right,
      (p) => p,
    );
    return ok ? 'pass' : 'fail';
  } catch (err) {
    if (err instanceof AppError && err.status === 429) return Number(err.headers['retry-after']);
    throw err;
  }
}

describe('password budget', () => {
  it('keys a name that matches no account with the keyed digest, never a plain hash of it', async () => {
    const { db } = openDb();
    const key = randomBytes(32);
    const digestTyped = createTypedDigest(() => key);
    const budget = createPasswordBudget({ db, clock: createManualClock(START), digestTyped });
    // A password typed into the login field: what the table keeps must not reveal it.
    const typed = 'Correct Horse Battery';
    const account = budget.unknownName(typed);
    expect(account).toBe(`name:${digestTyped(typed)!}`);
    expect(await guess(budget, account)).toBe('fail');
    const stored = db.prepare('SELECT account FROM password_failures').pluck().all();
    expect(stored).toEqual([account]);
    const plain = createHash('sha256').update(typed.toLowerCase()).digest('hex');
    expect(account).not.toContain(plain.slice(0, 16));
    expect(account).not.toBe(unknownNameBudget(typed));
    // Another key gives another name: the digest is nothing without the key.
    const other = createPasswordBudget({
      db,
      clock: createManualClock(START),
      digestTyped: createTypedDigest(() => randomBytes(32)),
    });
    expect(other.unknownName(typed)).not.toBe(account);
  });

  it('holds every tier over every sliding window, whatever the schedule', async () => {
    const clock = createManualClock(START);
    const budget = createPasswordBudget({ db: openDb().db, clock });
    const key = userBudget('victim');
    const checked: number[] = [];
    // Three hours of guesses at uneven intervals (bursts and pauses), as fast as allowed.
    for (let step = 0; step < 2_000; step++) {
      clock.advance([1_000, 7_000, 400, 30_000, 2_000][step % 5]!);
      const outcome = await guess(budget, key);
      if (outcome === 'fail') checked.push(clock.now().getTime());
    }
    expect(checked.length).toBeGreaterThan(40);
    for (const { failures, windowMs } of PASSWORD_BUDGET) {
      for (const t of checked) {
        const within = checked.filter((u) => u > t - windowMs && u <= t).length;
        expect(within).toBeLessThanOrEqual(failures);
      }
    }
    const perHour = checked.filter((u) => u <= checked[0]! + 60 * MINUTE).length;
    expect(perHour).toBeLessThanOrEqual(100);
  });

  it('stops concurrent guesses at the budget while the checks are still running', async () => {
    const clock = createManualClock(START);
    const budget = createPasswordBudget({ db: openDb().db, clock });
    let ran = 0;
    const slowWrong = () =>
      budget
        .spend(
          userBudget('victim'),
          { action: 'pair' },
          async () => {
            ran += 1;
            await new Promise((r) => setTimeout(r, 5));
            return false;
          },
          (p) => p,
        )
        .then(
          () => 'fail',
          (err: AppError) => err.status,
        );
    const outcomes = await Promise.all(Array.from({ length: 50 }, slowWrong));
    expect(ran).toBe(PASSWORD_BUDGET[0].failures);
    expect(outcomes.filter((o) => o === 429)).toHaveLength(50 - PASSWORD_BUDGET[0].failures);
  });

  it('counts failures only; the right password is refused once the budget is spent', async () => {
    const clock = createManualClock(START);
    const budget = createPasswordBudget({ db: openDb().db, clock });
    const key = userBudget('alice');
    for (let i = 0; i < 20; i++) expect(await guess(budget, key, true)).toBe('pass');
    for (let i = 0; i < 10; i++) expect(await guess(budget, key)).toBe('fail');
    expect(await guess(budget, key, true)).toBe(15 * 60);
    clock.advance(15 * MINUTE);
    expect(await guess(budget, key, true)).toBe('pass');
    expect(budget.failures(key)).toBe(10);
  });

  it('is kept in the database: a new process finds the spent budget', async () => {
    const clock = createManualClock(START);
    const first = openDb();
    const budget = createPasswordBudget({ db: first.db, clock });
    for (let i = 0; i < 10; i++) await guess(budget, userBudget('alice'));
    first.db.close();
    const again = createPasswordBudget({ db: openDb(first.dir).db, clock });
    clock.advance(MINUTE);
    expect(await guess(again, userBudget('alice'), true)).toBe(14 * 60);
  });

  it('still counts failures the database refuses to store', async () => {
    const clock = createManualClock(START);
    const { db } = openDb();
    const budget = createPasswordBudget({ db, clock });
    const key = userBudget('alice');
    for (let i = 0; i < 3; i++) expect(await guess(budget, key)).toBe('fail');
    // A storage fault: every write fails from now on, and so does each wrong guess.
    db.pragma('query_only = ON');
    for (let i = 0; i < 7; i++) {
      await expect(guess(budget, key)).rejects.toThrow(/readonly|read-only|query_only/i);
    }
    expect(await guess(budget, key, true)).toBe(900);
    clock.advance(15 * MINUTE);
    expect(await guess(budget, key, true)).toBe('pass');
  });

  it('limits unknown names like accounts, without telling them apart, in bounded rows', async () => {
    const clock = createManualClock(START);
    const { db } = openDb();
    const refused: RateRefusal[] = [];
    const lockouts: RateRefusal[] = [];
    const budget = createPasswordBudget({
      db,
      clock,
      onRefused: (r) => refused.push(r),
      onLockout: (r) => lockouts.push(r),
    });
    const ghost = unknownNameBudget(' Ghost@Example.test ');
    expect(ghost).toBe(unknownNameBudget('ghost@example.test'));
    expect(ghost).not.toContain('ghost');
    for (let i = 0; i < 10; i++) expect(await guess(budget, ghost)).toBe('fail');
    expect(await guess(budget, ghost)).toBe(900);
    expect(lockouts).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ scope: 'account', key: ghost, lockout: false });
    // A stream of made-up names: the table keeps at most UNKNOWN_NAME_ROWS of them (plus
    // what arrives between two sweeps).
    const count = () =>
      (db.prepare('SELECT COUNT(*) AS n FROM password_failures').get() as { n: number }).n;
    db.exec('BEGIN');
    const insert = db.prepare('INSERT INTO password_failures (account, at) VALUES (?, ?)');
    for (let i = 0; i < UNKNOWN_NAME_ROWS; i++) {
      insert.run(unknownNameBudget(`n${i}`), clock.now().getTime());
    }
    db.exec('COMMIT');
    await guess(budget, userBudget('alice'));
    for (let i = 0; i < 300; i++) await guess(budget, unknownNameBudget(`m${i}`));
    expect(count()).toBeLessThanOrEqual(UNKNOWN_NAME_ROWS + 256);
    // The real account's failure is not what goes.
    expect(budget.failures(userBudget('alice'))).toBe(1);
  });
});
