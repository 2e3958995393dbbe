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
/** How long stop() waits for a checkpoint in progress before closing anyway. */
const STOP_WAIT_MS = 5_000;

export interface CheckpointerOptions {
  /** Frames waiting in the WAL before the worker checkpoints them. */
  readonly thresholdFrames?: number;
  /** How often the worker looks at the WAL. */
  readonly pollMs?: number;
  /** After this long without a commit the worker checkpoints whatever is left. */
  readonly idleMs?: number;
  /**
   * The main connection's own automatic checkpoint while the worker runs: a backstop that
   * bounds the WAL if the worker lags, far above the worker's threshold.
   */
  readonly backstopFrames?: number;
  /** The file the worker opens; the main connection's database unless a test says otherwise. */
  readonly file?: string;
  /** The worker failed: it has stopped, and the main connection checkpoints as before. */
  readonly onError: (error: unknown) => void;
}

export interface CheckpointStats {
  /** PASSIVE checkpoints run by the worker that copied frames. */
  readonly checkpoints: number;
  /** Frames the worker copied into the database file. */
  readonly frames: number;
  /** Worker checkpoints that reached the end of the WAL. */
  readonly caughtUp: number;
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
  };
  // The worker runs the function's compiled source, so the same code serves the build
  // (build/src/...js) and tests that run the .ts sources, with no separate worker file.
  const source = `(${checkpointWorkerMain.toString()})(require, require('node:worker_threads').workerData);`;
  const worker = new Worker(source, { eval: true, workerData, name: 'wal-checkpointer' });
  // Never keeps the process alive on its own; stop() ends it deliberately.
  worker.unref();
  db.pragma(`wal_autocheckpoint = ${options.backstopFrames ?? 10_000}`);

  let stopping = false;
  let failed = false;
  const fail = (error: unknown) => {
    if (failed || stopping) return;
    failed = true;
    if (db.open) db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT}`);
    options.onError(error);
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`checkpoint worker exited with code ${code}`)));

  return {
    stats: () => ({
      checkpoints: Atomics.load(state, SLOT.checkpoints),
      frames: Atomics.load(state, SLOT.frames),
      caughtUp: Atomics.load(state, SLOT.caughtUp),
    }),
    stop() {
      if (stopping) return;
      stopping = true;
      Atomics.store(state, SLOT.stop, 1);
      Atomics.notify(state, SLOT.stop);
      // Blocks the caller only for the checkpoint in progress, so that the caller's final
      // checkpoint and close find no other connection working on the file.
      Atomics.wait(state, SLOT.done, 0, STOP_WAIT_MS);
      void worker.terminate();
      if (db.open) db.pragma(`wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT}`);
    },
  };
}
