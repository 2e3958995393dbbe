import type { FileHandle } from 'node:fs/promises';

const MiB = 1024 * 1024;

/** Writes the chunks with one writev, without gathering them into a new buffer first. */
async function writeAll(handle: FileHandle, chunks: Buffer[]): Promise<void> {
  let pending = chunks;
  for (;;) {
    let { bytesWritten } = await handle.writev(pending);
    while (pending.length > 0 && bytesWritten >= pending[0]!.length) {
      bytesWritten -= pending[0]!.length;
      pending = pending.slice(1);
    }
    if (pending.length === 0) return;
    pending = [pending[0]!.subarray(bytesWritten), ...pending.slice(1)];
  }
}

export interface StagingWriter {
  /** Takes a chunk; returns a promise to wait for only when the caller must slow down. */
  add(chunk: Buffer): Promise<void> | undefined;
  /** Writes what is left and fsyncs the file: its bytes are on disk when this resolves. */
  finish(): Promise<void>;
  /** Waits for the writes and syncs in flight, ignoring their outcome (before a cleanup). */
  settle(): Promise<void>;
}

/**
 * Streams an upload into its (open) staging file while it is still arriving:
 * - socket-sized chunks are gathered into `batchBytes` writevs, one in flight while the
 *   next batch fills, so the disk write overlaps the receiving (memory: two batches);
 * - every `syncEveryBytes` written, an fdatasync starts in the background, so the disk
 *   flushes while the rest arrives and the final fsync has only the tail to wait for.
 * The final fsync always follows the last write; a failed early sync fails the upload
 * (a later fsync could succeed without the lost pages ever reaching the disk).
 */
export function createStagingWriter(
  handle: FileHandle,
  { batchBytes = MiB, syncEveryBytes = 8 * MiB } = {},
): StagingWriter {
  let batch: Buffer[] = [];
  let batched = 0;
  let writing: Promise<void> = Promise.resolve();
  let syncing: Promise<void> | undefined;
  let failure: { err: unknown } | undefined;
  let written = 0;
  let syncedUpTo = 0;

  const startSync = () => {
    syncedUpTo = written;
    syncing = handle.datasync().then(
      () => (syncing = undefined),
      (err: unknown) => {
        failure ??= { err };
        syncing = undefined;
      },
    );
  };

  const writeBatch = () => {
    const chunks = batch;
    const bytes = batched;
    batch = [];
    batched = 0;
    writing = writeAll(handle, chunks).then(() => {
      written += bytes;
      if (!syncing && written - syncedUpTo >= syncEveryBytes) startSync();
    });
    // Awaited by the next add() or by finish(); until then it must not count as unhandled.
    writing.catch(() => undefined);
  };

  const rethrowFailure = () => {
    if (failure) throw failure.err;
  };

  return {
    add(chunk) {
      batch.push(chunk);
      batched += chunk.length;
      if (batched < batchBytes) return undefined;
      return writing.then(() => {
        rethrowFailure();
        writeBatch();
      });
    },

    async finish() {
      await writing;
      if (batched > 0) {
        writeBatch();
        await writing;
      }
      await syncing;
      rethrowFailure();
      await handle.sync();
    },

    async settle() {
      await writing.catch(() => undefined);
      await syncing;
    },
  };
}
