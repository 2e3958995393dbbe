import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { AppError } from '../../src/errors.js';
import { createBudgetTable } from '../../src/http/budget-table.js';
import { clientKeyOf } from '../../src/http/client-key.js';
import { createRateLimiter, type RateAction } from '../../src/http/rate-limit.js';
import type { RateRefusal } from '../../src/security/rate-refusal.js';

const MINUTE = 60_000;

/** The answer of one check: 'ok', or the Retry-After of a 429. */
function attempt(
  limiter: ReturnType<typeof createRateLimiter>,
  action: RateAction,
  ip: string,
  account?: string,
): 'ok' | number {
  try {
    limiter.check(action, ip, account);
    return 'ok';
  } catch (err) {
    if (err instanceof AppError && err.status === 429) return Number(err.headers['retry-after']);
    throw err;
  }
}

describe('clientKeyOf', () => {
  it('groups IPv6 by /64, folds IPv4-mapped addresses and keeps IPv4 whole', () => {
    expect(clientKeyOf('203.0.113.7')).toBe('203.0.113.7');
    expect(clientKeyOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientKeyOf('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(clientKeyOf('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(clientKeyOf('2001:db8:1:2:3:4:1.2.3.4')).toBe('2001:db8:1:2::/64');
    expect(clientKeyOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientKeyOf('::1')).toBe('0:0:0:0::/64');
    expect(clientKeyOf('2001:db8:1:3::1')).not.toBe(clientKeyOf('2001:db8:1:2::1'));
    // Not an address (a test's remoteAddress, a socket gone): its own key, unchanged.
    expect(clientKeyOf('unknown')).toBe('unknown');
  });
});

describe('budget table', () => {
  it('creates and refreshes nothing for refused keys', () => {
    const table = createBudgetTable(3, 10 * MINUTE, 100);
    for (let i = 0; i < 3; i++) expect(table.hit('a', 0).allowed).toBe(true);
    for (let i = 0; i < 10_000; i++) expect(table.hit('a', i).allowed).toBe(false);
    expect(table.size).toBe(1);
  });

  it('never evicts a spent budget before its window ends: new keys share an overflow budget', () => {
    const table = createBudgetTable(2, 10 * MINUTE, 4);
    for (const key of ['a', 'b', 'c', 'd']) {
      expect(table.hit(key, 0).allowed).toBe(true);
      expect(table.hit(key, 0).allowed).toBe(true);
    }
    // Every slot is spent and pinned: 'e', 'f', ... share one budget of 2 and push nobody out.
    const fresh = Array.from({ length: 1_000 }, (_, i) => table.hit(`n${i}`, 1).allowed);
    expect(fresh.filter(Boolean)).toHaveLength(2);
    expect(table.size).toBe(4);
    for (const key of ['a', 'b', 'c', 'd']) expect(table.hit(key, 2).allowed).toBe(false);
    // Once the windows end the spent keys make room again.
    expect(table.hit('late', 10 * MINUTE).allowed).toBe(true);
    expect(table.hit('a', 10 * MINUTE).allowed).toBe(true);
  });

  it('evicts the least recently allowed key, never one kept busy by refusals', () => {
    const table = createBudgetTable(2, 10 * MINUTE, 3);
    table.hit('spent', 0);
    table.hit('spent', 0);
    table.hit('old', 1);
    table.hit('recent', 2);
    for (let i = 0; i < 100; i++) table.hit('spent', 3);
    table.hit('new', 4);
    // 'old' went (least recently allowed); 'spent' stays spent.
    expect(table.hit('spent', 5)).toMatchObject({ allowed: false, lockout: false });
    expect(table.hit('recent', 5).allowed).toBe(true);
    expect(table.hit('recent', 5).allowed).toBe(false);
    expect(table.size).toBe(3);
  });

  it('tells the lockout once per window and the whole seconds left', () => {
    const table = createBudgetTable(1, 10 * MINUTE, 10);
    table.hit('a', 0);
    expect(table.hit('a', 1_500)).toEqual({ allowed: false, retryAfter: 599, lockout: true });
    expect(table.hit('a', 599_999)).toEqual({ allowed: false, retryAfter: 1, lockout: false });
    expect(table.hit('a', 600_000).allowed).toBe(true);
  });
});

describe('rate limiter', () => {
  it('a flood from one refused address creates no entries and leaves other budgets alone', () => {
    const clock = createManualClock('2026-12-04T10:00:00Z');
    const refusals: RateRefusal[] = [];
    const limiter = createRateLimiter(clock, { capacity: 100, onRefused: (r) => refusals.push(r) });
    // A victim address half-way through its budget, and one that has spent its own.
    for (let i = 0; i < 5; i++) expect(attempt(limiter, 'login', '198.51.100.1')).toBe('ok');
    for (let i = 0; i < 10; i++) expect(attempt(limiter, 'login', '203.0.113.7')).toBe('ok');
    let forgotAllowed = 0;
    for (let i = 0; i < 10_000; i++) {
      if (attempt(limiter, 'forgot', '203.0.113.7', `x${i}@example.test`) === 'ok') forgotAllowed++;
      expect(attempt(limiter, 'login', '203.0.113.7', `victim${i}`)).toBe(600);
    }
    expect(forgotAllowed).toBe(5);
    // 'forgot' allowed 5 (5 account entries), refused the rest without a single entry.
    expect(limiter.size).toBe(2 + 1 + 5);
    expect(attempt(limiter, 'login', '203.0.113.7')).toBe(600);
    for (let i = 0; i < 5; i++) expect(attempt(limiter, 'login', '198.51.100.1')).toBe('ok');
    expect(attempt(limiter, 'login', '198.51.100.1')).toBe(600);
    expect(refusals.filter((r) => r.lockout)).toHaveLength(3);
    expect(refusals.filter((r) => r.action === 'login')).toHaveLength(10_002);
  });

  it('counts one IPv6 /64 as one client, each IPv4 address as its own', () => {
    const clock = createManualClock('2026-12-04T10:00:00Z');
    const limiter = createRateLimiter(clock);
    for (let i = 1; i <= 5; i++) expect(attempt(limiter, 'pair', `2001:db8:0:1::${i}`)).toBe('ok');
    expect(attempt(limiter, 'pair', '2001:db8:0:1:ffff:ffff:ffff:1')).toBe(900);
    expect(attempt(limiter, 'pair', '2001:db8:0:2::1')).toBe('ok');
    for (let i = 1; i <= 6; i++) expect(attempt(limiter, 'pair', `192.0.2.${i}`)).toBe('ok');
  });

  it('keeps account budgets apart from client budgets: no client flood evicts them', () => {
    const clock = createManualClock('2026-12-04T10:00:00Z');
    const limiter = createRateLimiter(clock, { capacity: 50 });
    for (let i = 0; i < 5; i++) {
      expect(attempt(limiter, 'forgot', `10.0.0.${i}`, 'victim@example.test')).toBe('ok');
    }
    // Thousands of clients, each allowed once, cycle through the client table.
    for (let i = 0; i < 5_000; i++) {
      attempt(limiter, 'forgot', `10.${(i >> 8) & 255}.${i & 255}.1`, `other${i}@x.test`);
    }
    expect(attempt(limiter, 'forgot', '10.200.0.1', ' VICTIM@example.test ')).toBe(3600);
  });
});
