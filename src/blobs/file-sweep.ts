import { link, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSha256, TEMP_PREFIX } from './blob-store.js';

/** A file retention may remove, with what it costs on disk. */
export interface SweepFile {
  readonly name: string;
  readonly size: number;
  /** mtime in ms since the epoch. */
  readonly modifiedAt: number;
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

async function statOf(path: string): Promise<SweepFile | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? { name: path, size: s.size, modifiedAt: s.mtimeMs } : undefined;
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

export type FileSweep = ReturnType<typeof createFileSweep>;

/**
 * The files of a data directory that retention looks at: staged uploads in `<data>/tmp`
 * and content files under `<data>/blobs/ab/cd/<sha256>`. Which of them are unneeded is the
 * caller's question (the log knows); this module only lists and removes them safely.
 */
export function createFileSweep(dataDir: string) {
  const tempDir = join(dataDir, 'tmp');
  const blobDir = join(dataDir, 'blobs');
  const pathOf = (sha256: string) => join(blobDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);

  return {
    /** Staged uploads only: replay's scratch databases share the folder and are not ours. */
    async listTempUploads(): Promise<SweepFile[]> {
      const found: SweepFile[] = [];
      for (const name of await namesIn(tempDir)) {
        if (!name.startsWith(TEMP_PREFIX)) continue;
        const file = await statOf(join(tempDir, name));
        if (file) found.push({ ...file, name });
      }
      return found;
    },

    async removeTempUpload(name: string): Promise<void> {
      await rm(join(tempDir, name), { force: true });
    },

    /** Every file at a content address; quarantined copies (`<sha>.damaged-…`) are skipped. */
    async listBlobFiles(): Promise<SweepFile[]> {
      const found: SweepFile[] = [];
      for (const a of await namesIn(blobDir)) {
        for (const b of await namesIn(join(blobDir, a))) {
          for (const name of await namesIn(join(blobDir, a, b))) {
            if (!isSha256(name) || name.slice(0, 2) !== a || name.slice(2, 4) !== b) continue;
            const file = await statOf(join(blobDir, a, b, name));
            if (file) found.push({ ...file, name });
          }
        }
      }
      return found;
    },

    /**
     * Removes a content file unless it turns out to be needed; returns the bytes removed,
     * or undefined when it was kept. An upload of the same content may be between placing
     * (or touching) the file and recording it, so the file is first moved aside, where no
     * new upload can find it, and only then judged: modified after `keepIfModifiedAfter`
     * (just placed or touched by an upload) or `isNeeded()` (recorded meanwhile) puts it
     * back, without replacing a copy an upload placed in the meantime.
     */
    async removeBlobFile(
      sha256: string,
      keepIfModifiedAfter: number,
      isNeeded: () => boolean,
    ): Promise<number | undefined> {
      const path = pathOf(sha256);
      const aside = `${path}.removing-${process.pid}`;
      try {
        await rename(path, aside);
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
      const file = await statOf(aside);
      if (file && file.modifiedAt <= keepIfModifiedAfter && !isNeeded()) {
        await rm(aside, { force: true });
        return file.size;
      }
      try {
        await link(aside, path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      await rm(aside, { force: true });
      return undefined;
    },
  };
}
