import { mkdtempSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { isProcessRunning } from '../process-alive.js';

const SHM = '/dev/shm';
const TMPFS_MAGIC = 0x01021994;
const PREFIX = 'verstak-backup-';

/**
 * A private folder on the RAM-backed /dev/shm for a file of about `bytes`, or undefined when
 * there is none or it would crowd the machine: the file must fit twice into the tmpfs's free
 * space and take at most a quarter of the free memory. (tmpfs pages cannot be dropped like
 * the page cache; only swap can take them.)
 */
export function memoryScratchDir(bytes: number): string | undefined {
  try {
    const fs = statfsSync(SHM);
    if (fs.type !== TMPFS_MAGIC) return undefined;
    if (fs.bavail * fs.bsize < 2 * bytes || bytes > freemem() / 4) return undefined;
    return mkdtempSync(join(SHM, `${PREFIX}${process.pid}-`));
  } catch {
    return undefined;
  }
}

/** Scratch folders of backups that were killed hold a database-sized copy in RAM: remove them. */
export function removeStaleScratch(): void {
  let names: string[];
  try {
    names = readdirSync(SHM);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length).split('-')[0]);
    if (Number.isSafeInteger(pid) && pid > 0 && !isProcessRunning(pid)) {
      rmSync(join(SHM, name), { recursive: true, force: true });
    }
  }
}
