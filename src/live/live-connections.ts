import type { AccessLost, VaultHeads } from './vault-heads.js';

export interface LiveLimits {
  readonly perDevice: number;
  readonly perUser: number;
  readonly total: number;
}

export interface LiveOwner {
  readonly deviceId: string;
  readonly userId: string;
}

/** An event stream or a waiting long-poll pull: both hold a connection open for a while. */
export type LiveKind = 'stream' | 'waiter';

interface Entry {
  readonly owner: LiveOwner;
  readonly kind: LiveKind;
  readonly end: () => void;
}

export interface LiveConnections {
  /**
   * Counts one more open stream or waiter against the caps: a release function, or
   * undefined when a cap is reached. `end` is called when the owner loses access or the
   * server shuts down; the holder then ends and releases.
   */
  admit(owner: LiveOwner, kind: LiveKind, end: () => void): (() => void) | undefined;
  /** Ends every stream and waiter (shutdown); later admissions are refused. */
  endAll(): void;
  counts(): Record<LiveKind, number>;
}

function countIn(map: Map<string, Set<Entry>>, key: string): number {
  return map.get(key)?.size ?? 0;
}

function addTo(map: Map<string, Set<Entry>>, key: string, entry: Entry): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(entry);
}

function removeFrom(map: Map<string, Set<Entry>>, key: string, entry: Entry): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(entry);
  if (set.size === 0) map.delete(key);
}

/**
 * The open event streams and waiting pulls of one server process, by device and user, so
 * that the caps hold and a revoked device's or blocked user's connections end at once.
 */
export function createLiveConnections(limits: LiveLimits, heads: VaultHeads): LiveConnections {
  const byDevice = new Map<string, Set<Entry>>();
  const byUser = new Map<string, Set<Entry>>();
  const counts: Record<LiveKind, number> = { stream: 0, waiter: 0 };
  let closed = false;

  const endEach = (entries: Iterable<Entry> | undefined) => {
    for (const entry of [...(entries ?? [])]) entry.end();
  };
  heads.onAccessLost((lost: AccessLost) => {
    if ('deviceId' in lost) endEach(byDevice.get(lost.deviceId));
    else endEach(byUser.get(lost.userId));
  });

  return {
    admit(owner, kind, end) {
      if (
        closed ||
        counts.stream + counts.waiter >= limits.total ||
        countIn(byDevice, owner.deviceId) >= limits.perDevice ||
        countIn(byUser, owner.userId) >= limits.perUser
      ) {
        return undefined;
      }
      const entry: Entry = { owner, kind, end };
      addTo(byDevice, owner.deviceId, entry);
      addTo(byUser, owner.userId, entry);
      counts[kind] += 1;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        removeFrom(byDevice, owner.deviceId, entry);
        removeFrom(byUser, owner.userId, entry);
        counts[kind] -= 1;
      };
    },
    endAll() {
      closed = true;
      for (const set of [...byDevice.values()]) endEach(set);
    },
    counts: () => ({ ...counts }),
  };
}
