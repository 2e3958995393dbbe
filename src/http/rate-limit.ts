import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { rateLimited, type OnRateLimited } from '../security/rate-refusal.js';
import { createBudgetTable, type BudgetTable } from './budget-table.js';
import { clientKeyOf } from './client-key.js';

export type { OnRateLimited, RateRefusal } from '../security/rate-refusal.js';

const MINUTE = 60_000;

/**
 * CONTRACT.md §6: fixed windows per client (IPv4 address or IPv6 /64). `byAccount` actions
 * also keep an in-memory budget per typed address; the password checks' account budget is
 * the database's instead (src/security/password-budget.ts), shared by every action and alias.
 */
export const RATE_RULES = {
  pair: { limit: 5, windowMs: 15 * MINUTE, byAccount: false },
  'device-register': { limit: 5, windowMs: 15 * MINUTE, byAccount: false },
  'auth-test': { limit: 10, windowMs: 10 * MINUTE, byAccount: false },
  login: { limit: 10, windowMs: 10 * MINUTE, byAccount: false },
  register: { limit: 5, windowMs: 60 * MINUTE, byAccount: true },
  forgot: { limit: 5, windowMs: 60 * MINUTE, byAccount: true },
  reset: { limit: 8, windowMs: 60 * MINUTE, byAccount: false },
  'admin-reset': { limit: 8, windowMs: 60 * MINUTE, byAccount: false },
} as const;

export type RateAction = keyof typeof RATE_RULES;

export type RateLimiter = ReturnType<typeof createRateLimiter>;

export interface RateLimiterOptions {
  /** Keys per table (each action's clients, each action's accounts). */
  readonly capacity?: number;
  readonly onRefused?: OnRateLimited;
}

export function createRateLimiter(clock: Clock, options: RateLimiterOptions = {}) {
  const capacity = options.capacity ?? 10_000;
  const onRefused = options.onRefused ?? (() => {});
  const tables = new Map<string, BudgetTable>();
  // Client and account budgets live in separate tables: clients cannot push accounts out.
  const table = (action: RateAction, scope: 'client' | 'account') => {
    const name = `${action}|${scope}`;
    let t = tables.get(name);
    if (!t) {
      const { limit, windowMs } = RATE_RULES[action];
      t = createBudgetTable(limit, windowMs, capacity);
      tables.set(name, t);
    }
    return t;
  };

  return {
    /**
     * Counts one attempt (successful ones too) against the client's budget and, for
     * `byAccount` actions, the typed address's; throws 429 past either. A refused client
     * touches no account budget.
     */
    check(action: RateAction, ip: string, account?: string): void {
      const now = clock.now().getTime();
      const client = clientKeyOf(ip);
      const byClient = table(action, 'client').hit(client, now);
      if (!byClient.allowed) {
        onRefused({ action, scope: 'client', ip, key: client, account, ...byClient });
        throw rateLimited(byClient.retryAfter);
      }
      if (account === undefined || !RATE_RULES[action].byAccount) return;
      // A digest keeps every key small whatever length of address is sent.
      const key = createHash('sha256').update(account.trim().toLowerCase()).digest('base64url');
      const byAccount = table(action, 'account').hit(key, now);
      if (!byAccount.allowed) {
        onRefused({ action, scope: 'account', ip, key, account, ...byAccount });
        throw rateLimited(byAccount.retryAfter);
      }
    },
    /** Keys held over every table. */
    get size() {
      let n = 0;
      for (const t of tables.values()) n += t.size;
      return n;
    },
  };
}
