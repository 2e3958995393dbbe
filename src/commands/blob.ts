import { AppError } from '../errors.js';
import type { EventOfType } from '../log/index.js';
import type { Decider } from './decider.js';

export type BlobEvent = EventOfType<'BlobStored' | 'BlobReferenced'>;

/** One content address: whether its bytes are stored, and who references it. */
export type BlobState =
  | { status: 'unknown' }
  | {
      status: 'stored';
      size: number;
      /** `scopeKey(userId, vaultId)` of every referencing (user, vault). */
      scopes: ReadonlySet<string>;
      users: ReadonlySet<string>;
    };

export interface BlobUsage {
  /** Bytes already charged to the caller's (user, vault) and to the user. */
  readonly vaultBytes: number;
  readonly userBytes: number;
}

export interface BlobQuota {
  readonly maxVaultBytes: number;
  readonly maxUserBytes: number;
}

export type StoreBlob = {
  type: 'StoreBlob';
  data: EventOfType<'BlobReferenced'>['data'];
  usage: BlobUsage;
  quota: BlobQuota;
};
export type BlobCommand = StoreBlob;

export const blobStream = (sha256: string) => `blob/${sha256}`;

export const scopeKey = (userId: string, vaultId: string) => `${userId}\u0000${vaultId}`;

export const quotaExceeded = () =>
  new AppError(413, 'quota_exceeded', 'blob storage quota exceeded');

/**
 * CONTRACT.md §4.8: each scope is charged once for a content. Content the vault already
 * references is free; content another vault of the user references is free for the user.
 */
export function checkQuota(args: {
  size: number;
  inVault: boolean;
  forUser: boolean;
  usage: BlobUsage;
  quota: BlobQuota;
}): void {
  const { size, usage, quota } = args;
  if (!args.inVault && usage.vaultBytes + size > quota.maxVaultBytes) throw quotaExceeded();
  if (!args.forUser && usage.userBytes + size > quota.maxUserBytes) throw quotaExceeded();
}

function storeBlob(command: StoreBlob, state: BlobState): BlobEvent[] {
  const { sha256, size, userId, vaultId } = command.data;
  if (state.status === 'stored' && state.size !== size) {
    // Equal digests with different lengths mean a corrupt log or store, never a client error.
    throw new Error(`blob ${sha256}: size ${size} differs from the stored ${state.size}`);
  }
  const scopes = state.status === 'stored' ? state.scopes : new Set<string>();
  const users = state.status === 'stored' ? state.users : new Set<string>();
  const inVault = scopes.has(scopeKey(userId, vaultId));
  checkQuota({ size, inVault, forUser: users.has(userId), usage: command.usage, quota: command.quota });
  const events: BlobEvent[] = [];
  if (state.status === 'unknown') events.push({ type: 'BlobStored', data: { sha256, size } });
  if (!inVault) events.push({ type: 'BlobReferenced', data: command.data });
  return events;
}

export const blobDecider: Decider<BlobState, BlobCommand, BlobEvent> = {
  initialState: () => ({ status: 'unknown' }),
  evolve(state, event) {
    switch (event.type) {
      case 'BlobStored':
        return state.status === 'stored'
          ? state
          : { status: 'stored', size: event.data.size, scopes: new Set(), users: new Set() };
      case 'BlobReferenced': {
        if (state.status !== 'stored') return state;
        const { userId, vaultId } = event.data;
        return {
          ...state,
          scopes: new Set(state.scopes).add(scopeKey(userId, vaultId)),
          users: new Set(state.users).add(userId),
        };
      }
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'StoreBlob':
        return storeBlob(command, state);
      default: {
        const unreachable: never = command.type;
        return unreachable;
      }
    }
  },
};
