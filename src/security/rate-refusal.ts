import { AppError } from '../errors.js';

/** One refused request, told to the audit counter and the log's summary (never logged alone). */
export interface RateRefusal {
  readonly action: string;
  readonly scope: 'client' | 'account';
  readonly ip: string | undefined;
  /** What the budget is keyed by: the client (IPv4 or IPv6 /64) or an account key. */
  readonly key: string;
  /** The typed login or address, when there is one. */
  readonly account?: string | undefined;
  readonly userId?: string | undefined;
  readonly retryAfter: number;
  /** The refusal or failure that ran the budget out. */
  readonly lockout: boolean;
}

export type OnRateLimited = (refusal: RateRefusal) => void;

/** CONTRACT.md §6: 429 with the whole seconds until the budget frees up. */
export const rateLimited = (retryAfter: number) =>
  new AppError(429, 'rate_limited', 'too many attempts', { 'retry-after': String(retryAfter) });
