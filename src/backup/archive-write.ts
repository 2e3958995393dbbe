import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Pack } from 'tar';

const TAR_BLOCK = 512;

/** What the tar stream weighs before compression: a header per file, data padded to blocks. */
export const tarBytesOf = (sizes: readonly number[]) =>
  sizes.reduce((sum, size) => sum + TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK, 0) +
  2 * TAR_BLOCK;

/**
 * Writes `paths` (relative to `dir`, in this order) as a gzipped tar to `file`, which must
 * not exist. Names and modes only: `portable` leaves out owners, and one mtime for all
 * keeps two archives of the same state alike.
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
    createGzip(),
    createWriteStream(options.file, { flags: 'wx', mode: 0o600 }),
  );
}
