import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every file below `dir`, as paths. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * Every file of a data directory that contains one of `needles` as bytes, with the needle:
 * the erasure checks' byte search (database, WAL, blobs, anything else there).
 */
export const filesContaining = (dir: string, needles: readonly string[]) =>
  filesUnder(dir).flatMap((file) => {
    const bytes = readFileSync(file);
    return needles.filter((n) => bytes.includes(Buffer.from(n))).map((n) => `${file}: ${n}`);
  });
