import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isLeftoverUpload } from '../blobs/blob-store.js';
import { configPath } from '../config.js';
import { isProcessRunning } from '../process-alive.js';
import { SCRATCH_NAME, scratchOwnerRunning, scratchPid } from '../projections/scratch-files.js';

/**
 * Files no process owns any more may go after this long untouched. config.yml.tmp carries
 * no pid: a settings command may run beside the server, so only a file left alone this long
 * is a leftover. Likewise a replay scratch whose name holds no pid (not one scratchFileIn
 * makes).
 *
 * A replay scratch whose name holds its replay's pid (projections/scratch-files.ts) is
 * judged by that pid alone, never by its age: a replay may read its scratch without writing
 * it for longer than this (staging a large table into the live database), and removing a
 * running replay's file would also tell the next server start that no replay runs, and so
 * drop the tables that replay is staging. A dead replay's file goes at once.
 */
export const UNOWNED_LEFTOVER_MS = 10 * 60_000;

export interface LeftoverReport {
  /** Staged uploads of processes that no longer run. */
  readonly uploads: number;
  /** Replay scratch database files (with their -wal, -shm, -journal). */
  readonly scratch: number;
  /** A config.yml.tmp from a save that did not reach its rename. */
  readonly config: number;
  /** Content files a crashed retention run had set aside: put back, or dropped as a duplicate. */
  readonly setAside: number;
}

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

// Retention moves a content file to `<sha>.removing-<pid>` while it judges it
// (blobs/file-sweep.ts): a crash there leaves the only copy aside, where no reader finds it.
const SET_ASIDE = /^([0-9a-f]{64})\.removing-(\d+)$/;
const FAN_OUT = /^[0-9a-f]{2}$/;

function recoverSetAside(blobDir: string): number {
  let recovered = 0;
  for (const a of namesIn(blobDir).filter((n) => FAN_OUT.test(n))) {
    for (const b of namesIn(join(blobDir, a)).filter((n) => FAN_OUT.test(n))) {
      const dir = join(blobDir, a, b);
      for (const name of namesIn(dir)) {
        const match = SET_ASIDE.exec(name);
        if (!match || isProcessRunning(Number(match[2]))) continue;
        const address = join(dir, match[1]!);
        // Back at its address, retention judges it again against the log; a copy an
        // upload placed there meanwhile wins.
        if (existsSync(address)) rmSync(join(dir, name), { force: true });
        else renameSync(join(dir, name), address);
        recovered += 1;
      }
    }
  }
  return recovered;
}

function untouchedSince(path: string, before: number): boolean {
  try {
    return statSync(path).mtimeMs < before;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

/**
 * Removes what a crash leaves in a data directory: staged uploads in `<data>/tmp`, replay
 * scratch databases beside them, a half-saved config, and content files set aside. Runs after the database check and
 * before the runtime opens; files of a process still running are kept.
 */
export function removeLeftovers(dataDir: string, now = Date.now()): LeftoverReport {
  const tempDir = join(dataDir, 'tmp');
  const before = now - UNOWNED_LEFTOVER_MS;
  let uploads = 0;
  let scratch = 0;
  let config = 0;
  // A scratch database goes as a whole, judged by its newest file: a live one may write
  // only its -wal for a while.
  const scratchFiles = new Map<string, string[]>();
  for (const name of namesIn(tempDir)) {
    const path = join(tempDir, name);
    const match = SCRATCH_NAME.exec(name);
    if (match) {
      const base = name.slice(0, name.length - (match[2]?.length ?? 0));
      scratchFiles.set(base, [...(scratchFiles.get(base) ?? []), path]);
    } else if (isLeftoverUpload(name)) {
      rmSync(path, { force: true, recursive: true });
      uploads += 1;
    }
  }
  for (const [base, paths] of scratchFiles) {
    const pid = scratchPid(base);
    const leftover =
      pid === undefined
        ? paths.every((path) => untouchedSince(path, before))
        : !scratchOwnerRunning(join(tempDir, base), pid);
    if (!leftover) continue;
    for (const path of paths) rmSync(path, { force: true });
    scratch += paths.length;
  }
  const configTemp = `${configPath(dataDir)}.tmp`;
  if (untouchedSince(configTemp, before)) {
    rmSync(configTemp, { force: true });
    config += 1;
  }
  return { uploads, scratch, config, setAside: recoverSetAside(join(dataDir, 'blobs')) };
}
