import type { Bus } from '../bus.js';
import type { RecordedEvent } from '../log/index.js';

/** A vault's stream moved to `head` (its newest op's seq). */
export type HeadListener = (head: number) => void;

/** Who lost access: streams and waiters of theirs are ended at once. */
export type AccessLost = { readonly deviceId: string } | { readonly userId: string };

/**
 * Where live sync learns that a vault's head moved or that a device lost its access. Today
 * it listens to this process's bus after each commit; a server of several instances puts
 * a shared channel behind the same two subscriptions. Notifications are only hints: a
 * client pulls by sequence, so one that is dropped or coalesced loses nothing.
 */
export interface VaultHeads {
  watch(stream: string, listener: HeadListener): () => void;
  onAccessLost(listener: (lost: AccessLost) => void): () => void;
  close(): void;
}

const VAULT_OP = 'OperationPushed';

function accessLostBy(event: RecordedEvent): AccessLost | undefined {
  const data = event.data as { deviceId?: string; userId?: string };
  switch (event.type) {
    case 'DeviceRevoked':
    case 'DeviceDeleted':
      return data.deviceId ? { deviceId: data.deviceId } : undefined;
    case 'UserBlocked':
    case 'UserDeleted':
      return data.userId ? { userId: data.userId } : undefined;
    default:
      return undefined;
  }
}

export function watchVaultHeads(bus: Bus): VaultHeads {
  const listeners = new Map<string, Set<HeadListener>>();
  const lostListeners = new Set<(lost: AccessLost) => void>();
  // A group commit emits once per push it holds: the heads are gathered until the
  // emitting loop is over and each vault is told once, with its newest seq.
  let pending = new Map<string, number>();
  let flushQueued = false;
  const flush = () => {
    flushQueued = false;
    const heads = pending;
    pending = new Map();
    for (const [stream, head] of heads) {
      for (const listener of [...(listeners.get(stream) ?? [])]) listener(head);
    }
  };
  const onCommitted = (events: readonly RecordedEvent[]) => {
    for (const event of events) {
      if (event.type === VAULT_OP) {
        if (!listeners.has(event.stream)) continue;
        pending.set(event.stream, Math.max(pending.get(event.stream) ?? 0, event.seq));
        if (!flushQueued) {
          flushQueued = true;
          queueMicrotask(flush);
        }
        continue;
      }
      const lost = lostListeners.size > 0 ? accessLostBy(event) : undefined;
      if (lost) for (const listener of [...lostListeners]) listener(lost);
    }
  };
  bus.on('committed', onCommitted);
  return {
    watch(stream, listener) {
      let set = listeners.get(stream);
      if (!set) listeners.set(stream, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0 && listeners.get(stream) === set) listeners.delete(stream);
      };
    },
    onAccessLost(listener) {
      lostListeners.add(listener);
      return () => lostListeners.delete(listener);
    },
    close() {
      bus.off('committed', onCommitted);
      listeners.clear();
      lostListeners.clear();
    },
  };
}
