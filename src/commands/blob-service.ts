import type { Readable } from 'node:stream';
import type { BlobStore, OpenBlob, TempBlob } from '../blobs/blob-store.js';
import type { Limits } from '../config.js';
import { AppError } from '../errors.js';
import type { EventMeta, Sqlite } from '../log/index.js';
import {
  findBlobReference,
  findStoredBlob,
  findUserBlobReference,
  userBlobBytes,
  vaultBlobBytes,
} from '../projections/blobs.js';
import { blobDecider, blobStream, checkQuota, type BlobQuota } from './blob.js';
import type { CommandHandler } from './handle.js';

/** Who stores or reads: always the authenticated device's (user, vault). */
export interface BlobScope {
  readonly userId: string;
  readonly vaultId: string;
  readonly deviceId: string;
}

export type BlobService = ReturnType<typeof createBlobService>;

/** 500 `blob_unavailable`; `detail` goes to the log, never to the client. */
export class BlobUnavailableError extends AppError {
  constructor(readonly detail: string) {
    super(500, 'blob_unavailable', 'blob unavailable');
  }
}

/** Runs tasks of the same key one after another. */
function createKeyedLock() {
  const tails = new Map<string, Promise<unknown>>();
  return async function withLock<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}

const usageOf = (db: Sqlite, scope: BlobScope) => ({
  vaultBytes: vaultBlobBytes(db, scope.userId, scope.vaultId),
  userBytes: userBlobBytes(db, scope.userId),
});

export function createBlobService(deps: {
  db: Sqlite;
  handle: CommandHandler['handle'];
  store: BlobStore;
  limits: Limits;
}) {
  const { db, handle, store, limits } = deps;
  const quota: BlobQuota = {
    maxVaultBytes: limits.max_vault_blob_bytes,
    maxUserBytes: limits.max_user_blob_bytes,
  };
  // Placing a file and recording it are one step per content address, so that a
  // failed record can remove the file it placed without racing another upload of it.
  const withLock = createKeyedLock();
  // Since start, for the metrics: bytes of uploads stored (a re-upload of known content too).
  const counts = { uploadedBytes: 0 };

  return {
    counts: counts as Readonly<typeof counts>,

    /** Stages an upload; rejects with BlobTooLargeError past `max_blob_bytes`. */
    receive: (source: Readable): Promise<TempBlob> => store.writeTemp(source, limits.max_blob_bytes),

    discard: (temp: TempBlob) => store.discard(temp),

    /**
     * Moves a staged upload to its address and records it for the caller's scope.
     * The quota is checked before the file is placed and again inside the transaction.
     */
    async commit(temp: TempBlob, scope: BlobScope, meta: EventMeta) {
      const { sha256, size } = temp;
      checkQuota({
        size,
        inVault: findBlobReference(db, scope.userId, scope.vaultId, sha256) !== undefined,
        forUser: findUserBlobReference(db, scope.userId, sha256) !== undefined,
        usage: usageOf(db, scope),
        quota,
      });
      return withLock(sha256, async () => {
        const outcome = await store.commit(temp);
        try {
          handle({
            stream: blobStream(sha256),
            decider: blobDecider,
            meta,
            command: (tx) => ({
              type: 'StoreBlob' as const,
              data: { sha256, size, ...scope },
              usage: usageOf(tx, scope),
              quota,
            }),
          });
        } catch (err) {
          if (outcome !== 'existing' && !findStoredBlob(db, sha256)) await store.delete(sha256);
          throw err;
        }
        counts.uploadedBytes += size;
        return { sha256, size };
      });
    },

    /** The caller's blob, opened; knowing a digest grants nothing without a reference. */
    async open(scope: BlobScope, sha256: string): Promise<OpenBlob> {
      const reference = findBlobReference(db, scope.userId, scope.vaultId, sha256);
      if (!reference) throw new AppError(404, 'blob_not_found', 'blob not found');
      const blob = await store.open(sha256);
      if (!blob) throw new BlobUnavailableError(`blob ${sha256} is missing from the store`);
      if (blob.size !== reference.size) {
        await blob.close();
        throw new BlobUnavailableError(
          `blob ${sha256} has ${blob.size} bytes on disk, ${reference.size} expected`,
        );
      }
      return blob;
    },

    /** Takes a copy whose bytes do not match its digest out of service; a re-upload restores it. */
    quarantine: (sha256: string) => store.quarantine(sha256),
  };
}
