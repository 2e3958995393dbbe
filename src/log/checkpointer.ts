import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import {
  checkpointWorkerMain,
  SLOT,
  SLOT_COUNT,
  type CheckpointWorkerData,
} from './checkpoint-worker.js';
import type { Sqlite } from './database.js';

/** SQLite's own wal_autocheckpoint default, restored when the worker is gone. */
const DEFAULT_AUTOCHECKPOINT = 1000;
/** How long the start waits for the first worker to run, so that onWorkerOnline comes first. */
const ONLINE_WAIT_MS = 2_000;
/** A failed worker is started again after this, doubling up to RESTART_MAX_MS while it fails. */
const RESTART_FIRST_MS = 1_000;
const RESTART_MAX_MS = 60_000;
/** How long stop() waits for a checkpoint in progress before closing anyway. */
const STOP_WAIT_MS = 5_000;
/**
 * A worker thread is a whole V8 isolate and node environment (about 10 MiB resident): the
 * worker only polls SQLite, so its heap is kept small, and an idle server lets it end.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 };

export interface CheckpointerOptions {
  /** Frames waiting in the WAL before the worker checkpoints them. */
  readonly thresholdFrames?: number;
  /** How often the worker looks at the WAL. */
  readonly pollMs?: number;
  /** After this long without a commit the worker checkpoints whatever is left. */
  readonly idleMs?: number;
  /**
   * After this long with the WAL all checkpointed and no commit, the worker ends, and a new
   * one is started once the main connection finds new frames in the WAL (every `wakeMs`).
   */
  readonly retireMs?: number;
  readonly wakeMs?: number;
  /**
   * The main connection's own automatic checkpoint while the worker runs: a backstop that
   * bounds the WAL if the worker lags, far above the worker's threshold.
   */
  readonly backstopFrames?: number;
  /** The file the worker opens; the main connection's database unless a test says otherwise. */
  readonly file?: string;
  /**
   * Each worker runs (its isolate exists): the server sets its V8 heap flags again. For the
   * first worker, before startCheckpointer returns.
   */
  readonly onWorkerOnline?: () => void;
  /**
   * The worker failed (e.g. SQLITE_FULL): the main connection checkpoints as before until
   * a new worker, started after a backoff, runs.
   */
  readonly onError: (error: unknown) => void;
  /** The first wait before a failed worker is started again (doubling while it fails). */
  readonly restartMs?: number;
}

export interface CheckpointStats {
  /** PASSIVE checkpoints run by the worker that copied frames. */
  readonly checkpoints: number;
  /** Frames the worker copied into the database file. */
  readonly frames: number;
  /** Worker checkpoints that reached the end of the WAL. */
  readonly caughtUp: number;
  /** Workers started: the first, and one for each return of commits after the last retired. */
  readonly started: number;
  /** Workers that ended on their own after `retireMs` without commits. */
  readonly retired: number;
  /** Workers that failed; each is started again after a backoff. */
  readonly failures: number;
}

export interface Checkpointer {
  stats(): CheckpointStats;
  /** Stops the worker and waits until its connection is closed. */
  stop(): void;
}

/**
 * Moves WAL checkpoints off the event loop: SQLite's automatic checkpoint runs inside
 * COMMIT on the connection that commits, so on the server it copied pages and fsynced the
 * database file on the event loop. A worker thread with its own connection does it instead,
 * while the main connection keeps only a high automatic checkpoint as a backstop.
 * Durability is unchanged: commits still fsync the WAL (synchronous=FULL on the main
 * connection), and the worker's connection is FULL as well, so a checkpoint fsyncs the
 * database file before SQLite lets the WAL be overwritten.
 * Commits do not wait on the worker's checkpoints: it never asks for the writer lock. The one
 * moment a commit can meet it is SQLite's own header check (see checkpointWorkerMain), a
 * memory-only hold of the writer lock that the server's busy timeout (openDatabase) rides
 * over; a connection with no busy timeout would see SQLITE_BUSY there.
 * An idle server does not keep the thread: the worker ends once the WAL has been all
 * checkpointed for `retireMs`, and the main connection, reading only the WAL index every
 * `wakeMs`, starts a new one when commits have added frames (the backstop bounds the WAL
 * meanwhile).
 */
export function startCheckpointer(db: Sqlite, options: CheckpointerOptions): Checkpointer {
  if (db.memory || db.readonly) throw new Error('a checkpointer needs a writable database file');
  const state = new Int32Array(new SharedArrayBuffer(SLOT_COUNT * Int32Array.BYTES_PER_ELEMENT));
  const workerData: CheckpointWorkerData = {
    sqlitePath: createRequire(import.meta.url).resolve('better-sqlite3'),
    file: options.file ?? db.name,
    state: state.buffer,
    slot: SLOT,
    thresholdFrames: options.thresholdFrames ?? 1000,
    pollMs: options.pollMs ?? 50,
    idleMs: options.idleMs ?? 1000,
    retireMs: options.retireMs ?? 5000,
  };
  // The worker runs the function's compiled source, so the same code serves the build
  // (build/src/...js) and tests that run the .ts sources, with no separate worker file.
  const source = `(${checkpointWorkerMain.toString()})(require, require('node:worker_threads').workerData);`;
  // Read by the main connection while no worker runs: only the WAL index, no lock kept.
  const walState = db.prepare<[], { log: number; checkpointed: number }>(
    'PRAGMA wal_checkpoint(NOOP)',
  );

  let stopping = false;
  let started = 0;
  let retired = 0;
  let failures = 0;
  // Failures in a row without a checkpoint in between: the backoff doubles with them.
  let failingInARow = 0;
  let checkpointsAtStart = 0;
  let worker: Worker | undefined;
  let wake: NodeJS.Timeout | undefined;
  let restart: NodeJS.Timeout | undefined;
  const backstop = () => db.pragma(`wal_autocheckpoint = ${options.backstopFrames ?? 10_000}`);
  const fail = (error: unknown) => {
    if (stopping) return;
    failures += 1;
    if (Atomics.load(state, SLOT.checkpoints) > checkpointsAtStart) failingInARow = 0;
    const delay = Math.min(
      (options.restartMs ?? RESTART_FIRST_MS) * 2 ** failingInARow,
      RESTART_MAX_MS,
    );
    failingInARow += 1;
    if (wake) clearInterval(wake);
    wake = undefined;
    // Meanwhile commits checkpoint the WAL themselves, as without a worker.
    if (db.open) db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT}`);
    options.onError(error);
    restart = setTimeout(() => {
      restart = undefined;
      if (stopping || !db.open) return;
      backstop();
      startWorker();
    }, delay);
    restart.unref();
  };
  const startWorker = () => {
    Atomics.store(state, SLOT.done, 0);
    Atomics.store(state, SLOT.retired, 0);
    Atomics.store(state, SLOT.online, 0);
    checkpointsAtStart = Atomics.load(state, SLOT.checkpoints);
    started += 1;
    const current = new Worker(source, {
      eval: true,
      workerData,
      name: 'wal-checkpointer',
      resourceLimits: WORKER_LIMITS,
    });
    worker = current;
    // Never keeps the process alive on its own; stop() ends it deliberately.
    current.unref();
    // An error event is followed by the exit event, which decides what happens next.
    let error: unknown;
    current.on('error', (err) => (error = err));
    // A restarted worker must not stall the commits that woke it: it is not waited for.
    if (options.onWorkerOnline && started > 1) current.once('online', options.onWorkerOnline);
    current.on('exit', (code) => {
      if (worker !== current) return;
      worker = undefined;
      if (code !== 0 || Atomics.load(state, SLOT.retired) !== 1) {
        fail(error ?? new Error(`checkpoint worker exited with code ${code}`));
      } else if (!stopping) {
        retired += 1;
        failingInARow = 0;
        // The backstop stays set: the WAL is bounded while the next worker starts.
        wake = setInterval(wakeOnCommits, options.wakeMs ?? 250);
        wake.unref();
      }
    });
  };
  const wakeOnCommits = () => {
    if (stopping || worker || !db.open) return;
    try {
      const wal = walState.get()!;
      if (wal.log <= wal.checkpointed) return;
    } catch (error) {
      // The WAL index is briefly locked (recovery, a restart): the next tick looks again.
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return;
      fail(error);
      return;
    }
    clearInterval(wake);
    wake = undefined;
    startWorker();
  };
  backstop();
  startWorker();
  // At start-up nothing is served yet: the wait (a thread and an isolate being made, some
  // milliseconds) costs no request, and no allocation comes between the two.
  if (options.onWorkerOnline) {
    Atomics.wait(state, SLOT.online, 0, ONLINE_WAIT_MS);
    options.onWorkerOnline();
  }

  return {
    stats: () => ({
      checkpoints: Atomics.load(state, SLOT.checkpoints),
      frames: Atomics.load(state, SLOT.frames),
      caughtUp: Atomics.load(state, SLOT.caughtUp),
      started,
      retired,
      failures,
    }),
    stop() {
      if (stopping) return;
      stopping = true;
      if (wake) clearInterval(wake);
      if (restart) clearTimeout(restart);
      Atomics.store(state, SLOT.stop, 1);
      Atomics.notify(state, SLOT.stop);
      // Blocks the caller only for the checkpoint in progress, so that the caller's final
      // checkpoint and close find no other connection working on the file.
      Atomics.wait(state, SLOT.done, 0, STOP_WAIT_MS);
      void worker?.terminate();
      if (db.open) db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT}`);
    },
  };
}
