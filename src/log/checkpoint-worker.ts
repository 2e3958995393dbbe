import type BetterSqlite3 from 'better-sqlite3';

/** Int32 slots of the buffer the server and the checkpoint worker share. */
export const SLOT = {
  /** Set by the server to ask the worker to close its connection and end. */
  stop: 0,
  /** Set by the worker once its connection is closed (or it never opened one). */
  done: 1,
  /** PASSIVE checkpoints that copied at least one frame. */
  checkpoints: 2,
  /** Frames copied from the WAL into the database file. */
  frames: 3,
  /** Checkpoints that left no frame behind, so the next commit restarts the WAL. */
  caughtUp: 4,
  /** Set by the worker that ends because the WAL was all checkpointed and quiet for `retireMs`. */
  retired: 5,
  /** Set by the worker as soon as it runs (its isolate exists). */
  online: 6,
} as const;
export const SLOT_COUNT = 7;

export interface CheckpointWorkerData {
  /** Resolved path of better-sqlite3, so the worker loads the server's own copy. */
  readonly sqlitePath: string;
  readonly file: string;
  readonly state: SharedArrayBuffer;
  readonly slot: typeof SLOT;
  readonly thresholdFrames: number;
  readonly pollMs: number;
  readonly idleMs: number;
  /** The worker ends once the WAL has been all in the database file and unchanged this long. */
  readonly retireMs: number;
}

interface WalState {
  readonly busy: number;
  readonly log: number;
  readonly checkpointed: number;
}

/**
 * The worker's whole program. It runs from its source text (`toString()`), so it must not
 * use anything from this module's scope: only its arguments and globals.
 *
 * Every `pollMs` it asks SQLite how many WAL frames are not yet in the database file
 * (a NOOP checkpoint only reads the WAL index). Past `thresholdFrames`, or when no commit
 * came for `idleMs`, it runs PASSIVE checkpoints. Neither asks for the writer lock or calls
 * a busy handler (timeout 0), and the locks a PASSIVE checkpoint holds while it copies and
 * fsyncs (the checkpoint lock, read-mark 0) are ones a commit does not wait on.
 *
 * What it cannot avoid is SQLite's own header check (walIndexReadHdr), which every NOOP and
 * PASSIVE, like every read transaction, goes through: a read of the WAL-index header that
 * races a commit rewriting it is retried under the writer lock (WAL_WRITE_LOCK), held for
 * that memory-only re-read and released at once. A BEGIN IMMEDIATE in that instant gets
 * plain SQLITE_BUSY; the server's busy timeout (database.ts) retries it after 1 ms, so such
 * a commit waits a millisecond or so (more only if this thread is descheduled inside the
 * re-read) and does not fail. If the commit still holds the lock, the NOOP or PASSIVE
 * reports busy (log -1) instead: a commit is under way.
 *
 * It keeps going while the server commits behind it: the next commit restarts the WAL from
 * its beginning only if a checkpoint reached the end of the WAL before that commit began.
 * Under sustained load that moment rarely comes, and the main connection's backstop
 * checkpoint restarts the WAL; it then finds nearly every frame already copied.
 */
export function checkpointWorkerMain(
  load: (id: string) => unknown,
  data: CheckpointWorkerData,
): void {
  const MAX_ROUNDS = 32;
  const state = new Int32Array(data.state);
  const { slot } = data;
  let db: BetterSqlite3.Database | undefined;
  Atomics.store(state, slot.online, 1);
  Atomics.notify(state, slot.online);
  try {
    if (Atomics.load(state, slot.stop) !== 0) return;
    const Database = load(data.sqlitePath) as typeof BetterSqlite3;
    // timeout 0: this connection never sleeps in a busy handler holding anything.
    db = new Database(data.file, { fileMustExist: true, timeout: 0 });
    db.pragma('journal_mode = WAL');
    // The checkpoint fsyncs the database file before the WAL may be reused.
    db.pragma('synchronous = FULL');
    const noop = db.prepare<[], WalState>('PRAGMA wal_checkpoint(NOOP)');
    const passive = db.prepare<[], WalState>('PRAGMA wal_checkpoint(PASSIVE)');
    const stopping = () => Atomics.load(state, slot.stop) !== 0;
    // Another checkpoint holds its lock, or a commit is rewriting the WAL-index header (log
    // and checkpointed are -1 then): the WAL's state is not known at this moment.
    const busy = (wal: WalState) => wal.busy !== 0 || wal.log < 0;

    // Checkpoints until the WAL is all in the database file, the server commits faster than
    // this copies (MAX_ROUNDS), or a reader still needs older frames (no progress).
    const catchUp = (wal: WalState) => {
      for (let round = 0; round < MAX_ROUNDS && !stopping(); round++) {
        const result = passive.get()!;
        // The next poll looks again.
        if (busy(result)) return;
        // A shorter log means the server restarted the WAL in between: all of it is new.
        const copied = result.checkpointed - (result.log < wal.log ? 0 : wal.checkpointed);
        if (copied > 0) {
          Atomics.add(state, slot.checkpoints, 1);
          Atomics.add(state, slot.frames, copied);
        }
        // PASSIVE reports the WAL as it was when it started; the server may have committed since.
        const now = noop.get()!;
        // Not caught up, which the anchor keeper relies on (a caughtUp counts only a WAL known
        // to be copied).
        if (busy(now)) return;
        wal = now;
        if (wal.checkpointed >= wal.log) {
          Atomics.add(state, slot.caughtUp, 1);
          return;
        }
        if (copied <= 0) return;
      }
    };

    let lastLog = -1;
    let quietSince = Date.now();
    const poll = () => {
      const wal = noop.get()!;
      // Busy: a commit is writing right now, so the WAL is neither quiet nor known.
      if (busy(wal)) {
        quietSince = Date.now();
        return false;
      }
      if (wal.log !== lastLog) {
        lastLog = wal.log;
        quietSince = Date.now();
      }
      const pending = wal.log - wal.checkpointed;
      // Once commits pause, the rest goes too, so the next commit starts a fresh WAL.
      const quiet = pending > 0 && Date.now() - quietSince >= data.idleMs;
      if (pending >= data.thresholdFrames || quiet) catchUp(wal);
      // Nothing left to copy and no commit for a while: the thread's isolate (some 8 MiB)
      // is given back; the server starts a new worker when commits come again.
      return pending <= 0 && Date.now() - quietSince >= data.retireMs;
    };
    while (!stopping()) {
      try {
        if (poll()) {
          Atomics.store(state, slot.retired, 1);
          return;
        }
      } catch (error) {
        // The WAL index is briefly locked (SQLITE_BUSY_RECOVERY while another connection
        // rebuilds it): not a reason to stop.
        const code = (error as { code?: unknown }).code;
        if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY')) throw error;
      }
      Atomics.wait(state, slot.stop, 0, data.pollMs);
    }
  } finally {
    db?.close();
    Atomics.store(state, slot.done, 1);
    Atomics.notify(state, slot.done);
  }
}
