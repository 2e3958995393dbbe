import { open, type FileHandle } from 'node:fs/promises';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Pack } from 'tar';

const TAR_BLOCK = 512;

/** What the tar stream weighs before compression: a header per file, data padded to blocks. */
export const tarBytesOf = (sizes: readonly number[]) =>
  sizes.reduce((sum, size) => sum + TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK, 0) +
  2 * TAR_BLOCK;

/**
 * gzip level of the archive. zlib's default (6) spends about twice the CPU for an archive a
 * few percent smaller, and a backup shares the CPU with the server. Levels 2 to 6 write the
 * same gzip header (level 1 marks it "fastest"), which restore compares byte for byte.
 */
export const ARCHIVE_GZIP_LEVEL = 2;
/** The archive is flushed to disk every this many bytes (see SyncedFile). */
const SYNC_EVERY_BYTES = 8 * 1024 * 1024;

/**
 * A new file (`wx`, 0600) that fdatasyncs every `syncEvery` bytes and fsyncs at the end. Left
 * to the kernel, the whole archive sits dirty in the page cache until the final fsync writes
 * it in one burst, and the server's commit fsyncs queue behind that burst; in small steps
 * each of them waits for a few MiB at most.
 */
class SyncedFile extends Writable {
  #handle: FileHandle | undefined;
  #unsynced = 0;

  constructor(
    private readonly file: string,
    private readonly syncEvery: number,
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.file, 'wx', 0o600).then((handle) => {
      this.#handle = handle;
      callback();
    }, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#append(Buffer.concat(chunks.map((c) => c.chunk))).then(() => callback(), callback);
  }

  override _write(chunk: Buffer, _encoding: string, callback: (error?: Error | null) => void) {
    this.#append(chunk).then(() => callback(), callback);
  }

  async #append(bytes: Buffer): Promise<void> {
    const handle = this.#handle!;
    for (let at = 0; at < bytes.length;) {
      at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten;
    }
    this.#unsynced += bytes.length;
    if (this.syncEvery > 0 && this.#unsynced >= this.syncEvery) {
      this.#unsynced = 0;
      await handle.datasync();
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#handle!.sync().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.#handle;
    this.#handle = undefined;
    if (!handle) {
      callback(error);
      return;
    }
    handle.close().then(
      () => callback(error),
      (closeError: Error) => callback(error ?? closeError),
    );
  }
}

/**
 * Writes `paths` (relative to `dir`, in this order) as a gzipped tar to `file`, which must
 * not exist. Names and modes only: `portable` leaves out owners, and one mtime for all
 * keeps two archives of the same state alike. The file is fsynced once this resolves.
 */
export async function writeTarGz(options: {
  dir: string;
  paths: readonly string[];
  file: string;
  mtime: Date;
  onBytes: (tarBytes: number) => void;
}): Promise<void> {
  const pack = new Pack({
    cwd: options.dir,
    portable: true,
    mtime: options.mtime,
    noDirRecurse: true,
    strict: true,
    // The database copy may be a link to a scratch file in RAM: archived as the file it
    // points to. Nothing else in the staging folder is a symbolic link.
    follow: true,
  });
  for (const path of options.paths) pack.add(path);
  pack.end();
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      options.onBytes(bytes);
      done(null, chunk);
    },
  });
  await pipeline(
    pack,
    count,
    createGzip({ level: ARCHIVE_GZIP_LEVEL }),
    new SyncedFile(options.file, SYNC_EVERY_BYTES),
  );
}
