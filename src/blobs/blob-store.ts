import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, open, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobSource } from './digest-check.js';
import { createStagingWriter } from './staging-writer.js';
import { isProcessRunning } from '../process-alive.js';

const SHA256 = /^[0-9a-f]{64}$/;
/** Staged uploads in `<data>/tmp` are named `blob-<pid>-<random>`. */
export const TEMP_PREFIX = 'blob-';
// Range reads come in larger slices than the 64 KiB default: fewer reads, bounded memory.
const READ_CHUNK = 256 * 1024;

/** A staged upload: complete, fsynced, hashed, not yet at its content address. */
export interface TempBlob {
  readonly tempPath: string;
  readonly sha256: string;
  readonly size: number;
}

/**
 * An open stored blob: `read` streams a byte range and closes the blob when done;
 * `readAt` reads into a caller's buffer (the caller closes the blob).
 */
export interface OpenBlob extends BlobSource {
  read(range?: { start: number; end: number }): Readable;
}

export type CommitOutcome = 'created' | 'existing' | 'replaced';

/**
 * Content-addressed storage behind the small interface DESIGN.md asks for, so that an
 * S3-compatible store can be added without touching routes or commands.
 */
export interface BlobStore {
  /** Streams `source` into staging while hashing; rejects with BlobTooLargeError past maxBytes. */
  writeTemp(source: Readable, maxBytes: number): Promise<TempBlob>;
  /** Moves a staged blob to its address; an intact existing copy is kept, a damaged one replaced. */
  commit(temp: TempBlob): Promise<CommitOutcome>;
  discard(temp: TempBlob): Promise<void>;
  open(sha256: string): Promise<OpenBlob | undefined>;
  has(sha256: string): Promise<boolean>;
  size(sha256: string): Promise<number | undefined>;
  delete(sha256: string): Promise<void>;
  /** Moves a copy whose bytes no longer match its address out of the way, keeping it for inspection. */
  quarantine(sha256: string): Promise<void>;
  /** Removes staged uploads of processes that no longer run (a crash); returns how many. */
  cleanTemp(): number;
}

export class BlobTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`blob exceeds ${limit} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

export const isSha256 = (value: string) => SHA256.test(value);

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/** A staged upload (`blob-<pid>-<random>`) whose writer is gone. */
export function isLeftoverUpload(name: string): boolean {
  if (!name.startsWith(TEMP_PREFIX)) return false;
  return !isProcessRunning(Number(name.slice(TEMP_PREFIX.length).split('-')[0]));
}

/** Sets the file's mtime to now; false when it no longer exists. */
async function touch(path: string): Promise<boolean> {
  const now = new Date();
  try {
    await utimes(path, now, now);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Files at `<data>/blobs/ab/cd/<sha256>`, staged in `<data>/tmp` on the same filesystem.
 * Opening the store removes staged uploads left behind by a crash.
 */
export function createFileBlobStore(dataDir: string): BlobStore {
  const blobDir = join(dataDir, 'blobs');
  const tempDir = join(dataDir, 'tmp');
  mkdirSync(blobDir, { recursive: true, mode: 0o700 });
  mkdirSync(tempDir, { recursive: true, mode: 0o700 });

  // The path is built only from a validated digest, never from anything a client named.
  const pathOf = (sha256: string) => {
    if (!isSha256(sha256)) throw new Error('not a sha256 digest');
    return join(blobDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  };
  const sizeOf = async (path: string) => {
    try {
      return (await stat(path)).size;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  };

  const store: BlobStore = {
    async writeTemp(source, maxBytes) {
      const name = `${TEMP_PREFIX}${process.pid}-${randomBytes(12).toString('hex')}`;
      const tempPath = join(tempDir, name);
      const handle = await open(tempPath, 'wx', 0o600);
      const hash = createHash('sha256');
      const writer = createStagingWriter(handle);
      let size = 0;
      try {
        for await (const chunk of source as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > maxBytes) throw new BlobTooLargeError(maxBytes);
          hash.update(chunk);
          const slowDown = writer.add(chunk);
          if (slowDown) await slowDown;
        }
        await writer.finish();
        await handle.close();
      } catch (err) {
        source.destroy();
        await writer.settle();
        await handle.close().catch(() => undefined);
        await rm(tempPath, { force: true });
        throw err;
      }
      return { tempPath, sha256: hash.digest('hex'), size };
    },

    async commit(temp) {
      const path = pathOf(temp.sha256);
      const dir = dirname(path);
      const created = await mkdir(dir, { recursive: true, mode: 0o700 });
      let existing = await sizeOf(path);
      // Touching the kept copy tells a concurrent retention sweep (which spares recently
      // modified files) that it is about to be recorded; gone meanwhile, ours takes its place.
      if (existing === temp.size && (await touch(path))) {
        await rm(temp.tempPath, { force: true });
        return 'existing';
      }
      if (existing === temp.size) existing = undefined;
      await rename(temp.tempPath, path);
      await fsyncDirectory(dir);
      // New fan-out folders are entries of their parents, which must reach the disk too.
      if (created) {
        await fsyncDirectory(dirname(dir));
        await fsyncDirectory(blobDir);
      }
      return existing === undefined ? 'created' : 'replaced';
    },

    async discard(temp) {
      await rm(temp.tempPath, { force: true });
    },

    async open(sha256) {
      let handle: FileHandle;
      try {
        handle = await open(pathOf(sha256), 'r');
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
      const { size } = await handle.stat();
      return {
        size,
        read: (range) =>
          handle.createReadStream({ ...range, highWaterMark: READ_CHUNK, autoClose: true }),
        readAt: async (buffer, position) =>
          (await handle.read(buffer, 0, buffer.length, position)).bytesRead,
        close: () => handle.close(),
      };
    },

    async has(sha256) {
      return (await sizeOf(pathOf(sha256))) !== undefined;
    },

    size: (sha256) => sizeOf(pathOf(sha256)),

    async delete(sha256) {
      const path = pathOf(sha256);
      await rm(path, { force: true });
      await fsyncDirectory(dirname(path));
    },

    async quarantine(sha256) {
      const path = pathOf(sha256);
      try {
        await rename(path, `${path}.damaged-${Date.now()}`);
      } catch (err) {
        if (!isMissing(err)) throw err;
      }
    },

    cleanTemp() {
      let removed = 0;
      for (const name of readdirSync(tempDir)) {
        if (!isLeftoverUpload(name)) continue;
        rmSync(join(tempDir, name), { force: true, recursive: true });
        removed++;
      }
      return removed;
    },
  };
  store.cleanTemp();
  return store;
}
