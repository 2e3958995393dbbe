import type { Clock } from '../clock.js';
import { REFUSAL_TOP, type EventMeta, type EventOfType, type REFUSAL_KINDS } from '../log/index.js';
import type { TypedDigest } from '../security/typed-digest.js';
import type { Decider } from './decider.js';
import type { CommandHandler } from './handle.js';

export type RefusalKind = (typeof REFUSAL_KINDS)[number];
type Summary = EventOfType<'SecurityRefusalsCounted'>['data'];

/** Fixed windows, aligned to the clock: every instance cuts them at the same instants. */
export const REFUSAL_WINDOW_MS = 5 * 60_000;
/**
 * Distinct sources and targets remembered per kind and window. Past it new ones still count
 * in the total but are not ranked: the memory an attacker can fill stays bounded.
 */
const MAX_KEYS = 1_000;
const MAX_REASONS = 20;

export interface Refusal {
  readonly kind: RefusalKind;
  readonly reason: string;
  readonly ip?: string | undefined;
  /** What was aimed at, the first given of: an account, an admin, a device, a typed name. */
  readonly userId?: string | undefined;
  /** An admin of config.yml, by the name it signs in with. */
  readonly admin?: string | undefined;
  readonly deviceId?: string | undefined;
  /** Kept only as a keyed digest (security/typed-digest.ts), never as text. */
  readonly typed?: string | undefined;
}

/**
 * Older servers kept `typed:<first 8 hex of the plain sha256>`; now the digest is keyed
 * (`typed:<16 hex>`): both read alike, as a name that matched no account.
 */
const targetOf = (r: Refusal, digest: TypedDigest): string | undefined => {
  if (r.userId) return `user:${r.userId}`;
  if (r.admin) return `admin:${r.admin}`;
  if (r.deviceId) return `device:${r.deviceId}`;
  const typed = r.typed?.trim() ? digest(r.typed) : undefined;
  return typed ? `typed:${typed}` : undefined;
};

interface Tally {
  readonly kind: RefusalKind;
  readonly start: number;
  count: number;
  readonly reasons: Map<string, number>;
  readonly sources: Map<string, number>;
  readonly targets: Map<string, number>;
}

const bump = (map: Map<string, number>, key: string | undefined, max: number) => {
  if (key === undefined || key === '') return;
  const n = map.get(key);
  if (n !== undefined) map.set(key, n + 1);
  else if (map.size < max) map.set(key, 1);
};

const top = (map: Map<string, number>, limit: number) =>
  [...map].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, limit);

export const refusalsStream = (kind: RefusalKind) => `security/${kind}`;

type RecordRefusals = { type: 'RecordRefusals'; data: Summary };

export const refusalsDecider: Decider<
  null,
  RecordRefusals,
  EventOfType<'SecurityRefusalsCounted'>
> = {
  initialState: () => null,
  evolve: (state) => state,
  decide: (command) =>
    command.data.count > 0 ? [{ type: 'SecurityRefusalsCounted', data: command.data }] : [],
};

const SYSTEM: EventMeta = { actor: 'system' };

export type RefusalCounter = ReturnType<typeof createRefusalCounter>;

/**
 * Counts refused sign-ins, device authentications and rate-limited requests in memory and
 * appends one SecurityRefusalsCounted per kind and window, so that the log grows by at most
 * (kinds × windows) events however many refusals an attacker causes. Nothing is appended
 * while a request is answered: a refused request changes nothing in the log, and the
 * summaries are written by flush (a timer in serve, and close).
 */
export function createRefusalCounter(deps: {
  handle: CommandHandler['handle'];
  clock: Clock;
  /** Names typed that match no account; without it they are counted but not named. */
  digestTyped?: TypedDigest;
  windowMs?: number;
}) {
  const digestTyped: TypedDigest = deps.digestTyped ?? (() => undefined);
  const windowMs = deps.windowMs ?? REFUSAL_WINDOW_MS;
  const tallies = new Map<string, Tally>();
  // Since start, by kind, for the metrics (the tallies go once appended).
  const totals: Record<RefusalKind, number> = {
    user_login: 0,
    admin_login: 0,
    device_auth: 0,
    rate_limit: 0,
  };

  const append = (tally: Tally, end: number) => {
    const data: Summary = {
      kind: tally.kind,
      windowStart: new Date(tally.start).toISOString(),
      windowEnd: new Date(end).toISOString(),
      count: tally.count,
      reasons: top(tally.reasons, MAX_REASONS).map(([reason, count]) => ({ reason, count })),
      sources: top(tally.sources, REFUSAL_TOP).map(([ip, count]) => ({ ip, count })),
      targets: top(tally.targets, REFUSAL_TOP).map(([key, count]) => ({ key, count })),
    };
    deps.handle({
      stream: refusalsStream(tally.kind),
      decider: refusalsDecider,
      meta: SYSTEM,
      loadState: () => null,
      command: { type: 'RecordRefusals', data },
    });
  };

  const flushWhere = (closedOnly: boolean): number => {
    const now = deps.clock.now().getTime();
    let appended = 0;
    for (const [key, tally] of tallies) {
      const end = tally.start + windowMs;
      if (closedOnly && end > now) continue;
      // Deleted first: a failing append must not be retried forever by every later flush.
      tallies.delete(key);
      append(tally, Math.min(end, Math.max(now, tally.start + 1)));
      appended += 1;
    }
    return appended;
  };

  return {
    record(refusal: Refusal): void {
      const now = deps.clock.now().getTime();
      const start = Math.floor(now / windowMs) * windowMs;
      const key = `${refusal.kind}|${start}`;
      let tally = tallies.get(key);
      if (!tally) {
        tally = {
          kind: refusal.kind,
          start,
          count: 0,
          reasons: new Map(),
          sources: new Map(),
          targets: new Map(),
        };
        tallies.set(key, tally);
      }
      tally.count += 1;
      totals[refusal.kind] += 1;
      bump(tally.reasons, refusal.reason.slice(0, 40), MAX_REASONS);
      bump(tally.sources, refusal.ip?.slice(0, 64), MAX_KEYS);
      bump(tally.targets, targetOf(refusal, digestTyped)?.slice(0, 80), MAX_KEYS);
    },
    totals: totals as Readonly<Record<RefusalKind, number>>,
    /** Appends the summaries of windows that have ended; returns how many. */
    flushClosed: () => flushWhere(true),
    /** Appends every summary, the open windows' too (shutdown). */
    flushAll: () => flushWhere(false),
    /** Refusals counted and not yet appended. */
    get pending() {
      let n = 0;
      for (const t of tallies.values()) n += t.count;
      return n;
    },
  };
}
