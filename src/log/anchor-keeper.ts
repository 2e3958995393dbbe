import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { isProcessRunning } from '../process-alive.js';
import {
  ANCHOR_FILE,
  anchorFileOf,
  sealAnchor,
  writeAnchorFile,
  writeAnchorFileSync,
  type AnchorKey,
  type AnchorState,
} from './anchor.js';
import { checkAnchor, type AnchorCheck } from './anchor-check.js';
import { anchorKeyState, readAnchorKey, type AnchorKeySource } from './anchor-key.js';
import type { Sqlite } from './database.js';
import type { EventStore } from './event-store.js';
import { GENESIS_HASH } from './hash.js';
import { readEpoch } from './schema.js';

/** How often the server anchors its head when it moved: a crash leaves at most this much unanchored. */
export const ANCHOR_EVERY_MS = 2_000;

/** This process must not append: the log fails its anchor, or the key is not readable. */
export class AnchorRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnchorRefusedError';
  }
}

export interface AnchorKeeperOptions {
  readonly db: Sqlite;
  readonly dataDir: string;
  readonly keySource: AnchorKeySource;
  /** The server anchors `open` at start and every `everyMs`, `closed` at close. */
  readonly server: boolean;
  readonly everyMs?: number;
  readonly now?: () => Date;
  /** Worker checkpoints that reached the WAL's end so far (checkpointer stats). */
  readonly caughtUp?: () => number;
  /** An anchor the server could not write (it tries again on the next tick). */
  readonly onError?: (error: unknown) => void;
}

export interface AnchorKeeper {
  /** What the check found when the runtime opened. */
  readonly check: AnchorCheck;
  /**
   * False once a log was anchored: its key exists somewhere (a credential this process was
   * not given), and a new data-dir key would only be a second, wrong one.
   */
  readonly mayCreateKey: boolean;
  /** The server's first anchor and its timer. */
  start(): void;
  /** Throws AnchorRefusedError when this process must not append; marks the anchor open first. */
  beforeAppend(): void;
  /** The final anchor, `closed` where no other writer took over meanwhile. Never throws. */
  close(): void;
}

interface LogPoint {
  readonly seq: number;
  readonly hash: string;
}

const headOf = (db: Sqlite): LogPoint =>
  (db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() as
    { seq: number; hash: string } | undefined) ?? { seq: 0, hash: GENESIS_HASH };

const fileText = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** Temp files of anchor writers that died between write and rename. */
function removeDeadTemps(dataDir: string): void {
  const temp = new RegExp(`^${ANCHOR_FILE.replace('.', '\\.')}\\.tmp-(\\d+)-(sync|async)$`);
  for (const name of readdirSync(dataDir)) {
    const pid = temp.exec(name)?.[1];
    if (pid && !isProcessRunning(Number(pid))) rmSync(`${dataDir}/${name}`, { force: true });
  }
}

/** Writes an anchor at the log's head now (a restore anchors the log it put in place). */
export function anchorHead(
  db: Sqlite,
  dataDir: string,
  source: AnchorKeySource,
  state: AnchorState,
  now = new Date(),
): void {
  const head = headOf(db);
  const anchor = sealAnchor(readAnchorKey(source, true), {
    epoch: readEpoch(db),
    seq: head.seq,
    hash: head.hash,
    state,
    at: now.toISOString(),
  });
  writeAnchorFileSync(anchorFileOf(dataDir), anchor);
}

/**
 * Keeps the anchor of one runtime: checked at open, appends refused when it fails (so a
 * command never anchors, and so launders, a forged log), `open` before the first append
 * and `closed` at close. The MAC costs nothing per push: the server anchors on a timer.
 * An anchor only ever names an event already checkpointed into server.db: a WAL that loses
 * its tail in a crash (R3) then loses unanchored events only, a note rather than a
 * truncation.
 */
export function createAnchorKeeper(options: AnchorKeeperOptions): AnchorKeeper {
  const { db, dataDir, keySource, server } = options;
  const file = anchorFileOf(dataDir);
  const now = options.now ?? (() => new Date());
  const keyState = anchorKeyState(keySource);
  const check = checkAnchor(db, file, keyState);
  const failed = check.findings.find((f) => f.level === 'failure');
  const refusal =
    failed &&
    (failed.code === 'no_key' || failed.code === 'other_key'
      ? `${failed.message} — nothing was appended`
      : `${file}: ${failed.message} — nothing was appended to this log: run "verstak-sync-server verify --data ${dataDir}", then restore the data directory from a backup`);
  // What was on file at open: a command leaves it `closed` at close only if it found it so.
  const foundState: AnchorState | 'missing' = check.anchor?.state ?? 'missing';
  const mayCreateKey = !existsSync(file);
  const walState = db.prepare<[], { log: number; checkpointed: number }>(
    'PRAGMA wal_checkpoint(NOOP)',
  );
  const caughtUp = options.caughtUp ?? (() => 0);
  let key: AnchorKey | undefined = keyState.key;
  // The newest point known to be in server.db, and one waiting for a checkpoint to cover it.
  let covered: LogPoint | undefined = check.anchor;
  let waiting: { point: LogPoint; caughtUp: number } | undefined;
  let lastText: string | undefined;
  let markedOpen = false;
  let closed = false;
  let writing = false;
  let anchored: LogPoint | undefined;
  let timer: NodeJS.Timeout | undefined;
  let failing = false;
  const warn = (err: unknown) =>
    process.stderr.write(
      `warning: could not anchor the log in ${file} (${(err as Error).message}); trying again every few seconds\n`,
    );

  /** The newest event in server.db itself (not only in the WAL), as far as can be told. */
  const checkpointedHead = (): LogPoint => {
    const head = headOf(db);
    // Inside a transaction (a command's first append) SQLite refuses even to look.
    if (db.inTransaction) return covered ?? head;
    const wal = walState.get();
    if (!wal || wal.log <= wal.checkpointed) {
      covered = head;
      waiting = undefined;
      return head;
    }
    // Each worker checkpoint that reaches the WAL's end covers what was committed before it
    // began; the second one counted after `waiting` was taken surely began after it.
    if (waiting && caughtUp() >= waiting.caughtUp + 2) {
      covered = waiting.point;
      waiting = undefined;
    }
    waiting ??= { point: head, caughtUp: caughtUp() };
    return covered ?? head;
  };
  const seal = (point: LogPoint, state: AnchorState) => {
    key ??= readAnchorKey(keySource, true);
    return sealAnchor(key, {
      epoch: readEpoch(db),
      seq: point.seq,
      hash: point.hash,
      state,
      at: now().toISOString(),
    });
  };
  const writeNow = (point: LogPoint, state: AnchorState) => {
    lastText = writeAnchorFileSync(file, seal(point, state));
    anchored = point;
  };
  const tick = async () => {
    if (closed || writing || !db.open) return;
    writing = true;
    try {
      const point = checkpointedHead();
      if (point.seq === anchored?.seq) return;
      const text = await writeAnchorFile(file, seal(point, 'open'), () => !closed);
      if (text !== undefined) {
        lastText = text;
        anchored = point;
      }
      failing = false;
    } catch (err) {
      // Once per run of failures: a full disk must not print a line every tick.
      if (!failing) (options.onError ?? warn)(err);
      failing = true;
    } finally {
      writing = false;
    }
  };
  const markOpen = () => {
    if (markedOpen) return;
    writeNow(checkpointedHead(), 'open');
    markedOpen = true;
  };

  return {
    check,
    mayCreateKey,
    start() {
      if (!server || refusal) return;
      removeDeadTemps(dataDir);
      // At once: a command beside the server then finds `open` and leaves it so.
      markOpen();
      timer = setInterval(() => void tick(), options.everyMs ?? ANCHOR_EVERY_MS);
      timer.unref();
    },
    beforeAppend() {
      if (refusal) throw new AnchorRefusedError(refusal);
      try {
        markOpen();
      } catch (err) {
        throw new AnchorRefusedError(
          `cannot anchor the log in ${file} (${(err as Error).message}) — nothing was appended`,
        );
      }
    },
    close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      if (refusal || !markedOpen || !db.open) return;
      try {
        const head = headOf(db);
        const point = checkpointedHead();
        // Another writer (a server started meanwhile) anchored since: leave the anchor open.
        const untouched = fileText(file) === lastText;
        const clean = point.seq === head.seq && (server || (untouched && foundState !== 'open'));
        writeNow(point, clean ? 'closed' : 'open');
      } catch (err) {
        // The anchor on file stays `open`: the next start notes the unanchored tail.
        process.stderr.write(
          `warning: could not write the closing anchor ${file}: ${(err as Error).message}\n`,
        );
      }
    },
  };
}

/** The store with every append behind the keeper's check. */
export function guardAppends(store: EventStore, keeper: AnchorKeeper): EventStore {
  return {
    ...store,
    append(requests, meta, at) {
      keeper.beforeAppend();
      return store.append(requests, meta, at);
    },
  };
}
