import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { isProcessRunning } from '../process-alive.js';

/**
 * A replay's scratch databases in `<data>/tmp`, and what their names tell: whose they are
 * and whether that replay still runs. The server's start-up (cli/startup-cleanup.ts,
 * cli/serve.ts) and every replay judge them by the same rules, from here.
 */

// replay-<pid as 8 hex><8 random hex>.db: the name startup-cleanup.ts recognises, with
// the owner's pid in it, so a server or the next replay can tell a killed replay's file
// from a running one's.
export const SCRATCH_NAME = /^replay-([0-9a-f]{8})[0-9a-f]{8}\.db(-wal|-shm|-journal)?$/;
// Linux's largest pid_max: a larger "pid" is a name not made by scratchFileIn.
const MAX_PID = 0x400000;

/** A new scratch name carrying `pid`, the replay that will own it. */
export const scratchNameOf = (pid: number) =>
  `replay-${pid.toString(16).padStart(8, '0').slice(-8)}${randomBytes(4).toString('hex')}.db`;

export const scratchFileIn = (dir: string) => join(dir, scratchNameOf(process.pid));

export function removeScratch(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`])
    rmSync(f, { force: true });
}

/** The pid a scratch file's name carries, or undefined for another name. */
export function scratchPid(name: string): number | undefined {
  const match = SCRATCH_NAME.exec(name);
  if (!match) return undefined;
  const pid = parseInt(match[1]!, 16);
  return pid > 0 && pid <= MAX_PID ? pid : undefined;
}

// A process started this long after the scratch was last written cannot have written it.
// Covers /proc/stat's whole-second btime and a clock stepped since boot.
const START_SLACK_MS = 5000;

/** When a process started (ms since the epoch), from /proc; undefined where that fails. */
function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name, which may itself hold spaces and ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const boot = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    if (!boot || !Number.isFinite(ticks)) return undefined;
    // USER_HZ is 100 on every Linux architecture Node runs on.
    return Number(boot[1]) * 1000 + ticks * 10;
  } catch {
    return undefined;
  }
}

/**
 * Whether the replay that made this scratch file still runs: its pid is alive, and that
 * process is not a newer one that reused the pid of a killed replay (it started before the
 * file was last written). Where /proc cannot tell, a live pid counts as the owner.
 */
export function scratchOwnerRunning(file: string, pid: number): boolean {
  // No shortcut for this process's own pid: after a reboot it may be the pid a killed
  // replay had, and the start-time check tells the two apart.
  if (!isProcessRunning(pid)) return false;
  const started = processStartMs(pid);
  if (started === undefined) return true;
  try {
    return started <= statSync(file).mtimeMs + START_SLACK_MS;
  } catch {
    // Gone meanwhile: its replay ended.
    return false;
  }
}

export interface RunningReplay {
  readonly pid: number;
  /** Its scratch database (the main file). */
  readonly file: string;
}

/** The replays running on this scratch directory, judged by their scratch files. */
export function runningReplays(dir: string): RunningReplay[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const running: RunningReplay[] = [];
  for (const name of names) {
    const pid = scratchPid(name);
    // The main file only: created first and removed last (removeScratch).
    if (pid === undefined || SCRATCH_NAME.exec(name)![2] !== undefined) continue;
    const file = join(dir, name);
    if (scratchOwnerRunning(file, pid)) running.push({ pid, file });
  }
  return running;
}

/**
 * Removes scratch files in `dir` whose replay no longer runs (killed midway: a SIGKILL
 * leaves no chance to clean up). Returns how many files went.
 */
export function removeDeadScratch(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const pid = scratchPid(name);
    if (pid === undefined) continue;
    // A -wal or -shm is judged with its main file, whose mtime the owner's writes move.
    const main = join(dir, name.replace(/-(wal|shm|journal)$/, ''));
    if (scratchOwnerRunning(main, pid)) continue;
    rmSync(join(dir, name), { force: true });
    removed += 1;
  }
  return removed;
}

/** Another replay runs on the same data directory. */
export class ReplayRunningError extends Error {
  constructor(readonly other: RunningReplay) {
    super(
      `another replay (pid ${other.pid}) is running on this data directory (its scratch ${other.file}) — nothing was changed; wait for it to finish, or stop it (kill ${other.pid}), then replay again`,
    );
  }
}

// Tries while the only other replays seen may be claiming at the same moment (claimScratch).
const CLAIM_TRIES = 4;

/**
 * Claims the scratch directory for this replay: one replay at a time, since two would stage
 * and drop the same replay_* tables in the live database. Returns this replay's scratch file,
 * created empty; throws ReplayRunningError if another replay runs.
 *
 * The rule, race-free without a lock: a replay first creates its own scratch file
 * (O_EXCL), then looks for the files of other live replays, and backs off (removes its
 * file) if it sees any. Of two replays, the one that looks second always sees the
 * other's file, which exists from before the first one looked until it ends; so two never
 * both proceed. Two that start at the same instant may both see each other and both back
 * off: when every other file seen is still empty (a claim just made, or a replay still
 * verifying the log), the back-off waits a random moment and tries again, a few times, so
 * that one of two simultaneous starts usually wins. A lower name or an older file would
 * not do as a tie-break: a replay that has looked and proceeded must never yield to one
 * that looks later, whatever its name, and an mtime says nothing of who looked first.
 */
export function claimScratch(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  removeDeadScratch(dir);
  for (let attempt = 1; ; attempt++) {
    const file = scratchFileIn(dir);
    closeSync(openSync(file, 'wx', 0o600));
    const others = runningReplays(dir).filter((r) => r.file !== file);
    if (others.length === 0) return file;
    removeScratch(file);
    // Gone meanwhile (ended, or backed off itself): try again.
    const busy = others.find((r) => (sizeOf(r.file) ?? 0) > 0);
    if (busy !== undefined || attempt >= CLAIM_TRIES) {
      throw new ReplayRunningError(busy ?? others[0]!);
    }
    sleepMs(20 + Math.floor(Math.random() * 200));
  }
}

export function sizeOf(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
