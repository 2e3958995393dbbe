import {
  copyEvents,
  createEventStore,
  inWriteTransaction,
  migrateLog,
  openDatabase,
  type Catalogue,
  type EventStore,
  type Sqlite,
} from '../log/index.js';
import { compareProjections, quoteIdent, type TableDiff } from './compare.js';
import type { Projection } from './projection.js';
import { claimScratch, removeScratch, sizeOf } from './scratch-files.js';
import {
  createProjector,
  type DeferredIndex,
  type Progress,
  type Projector,
  type RebuildTimes,
} from './projector.js';
import {
  buildInScratch,
  lockTimer,
  removeReplayLeftovers,
  renameStaged,
  STAGE_MIN_ROWS,
  stageTables,
  withSchemaEdits,
} from './staged-swap.js';

/** The live side of a rebuild: the server database and the modules bound to it. */
export interface LiveLog {
  readonly db: Sqlite;
  readonly store: EventStore;
  readonly projector: Projector;
}

export interface RebuildOptions {
  readonly projections: readonly Projection[];
  readonly catalogue: Catalogue;
  readonly onProgress?: Progress;
  /**
   * Deferred indexes of tables with at least this many rows are left unbuilt in the scratch
   * (Scratch.unbuiltIndexes): the swap builds them on the staged table, so that their pages
   * are written once rather than written in the scratch and copied. Undefined: all built.
   */
  readonly leaveIndexesFrom?: number;
}

/** A scratch database holding a copy of the log and projections rebuilt from it. */
export interface Scratch {
  readonly file: string;
  readonly db: Sqlite;
  readonly projector: Projector;
  /** The last seq of the copied log. */
  head: number;
  /** Where the build's time went: the copy of the log, then the rebuild. */
  readonly times: BuildTimes;
  /** Deferred indexes not built in the scratch (RebuildOptions.leaveIndexesFrom). */
  readonly unbuiltIndexes: readonly DeferredIndex[];
  close(): void;
}

export interface BuildTimes extends RebuildTimes {
  readonly copySeconds: number;
}

const BATCH = 5000;
// Events per scratch transaction: with no journal on disk and no fsync, a commit costs
// little, so this only bounds the rows held in memory at once.
const SCRATCH_BATCH = 50_000;
// Page cache of the scratch connection, and of the live one while the swap runs (KiB):
// random keys (user ids, e-mail addresses) otherwise cost a page read per insert once the
// indexes outgrow SQLite's default 2 MiB.
const CACHE_KIB = 256 * 1024;
// SQLite caps it at its build's maximum (2 GiB here); the file pages it maps are counted
// in the RSS but belong to the page cache.
const MMAP_BYTES = 2 * 1024 ** 3;
const SORT_THREADS = 2;

const allTables = (projections: readonly Projection[]) => projections.flatMap((p) => p.tables);

/**
 * Copies the live log's tables into the scratch with INSERT … SELECT in one transaction: one
 * snapshot of a log a server may be appending to, and no row crosses into JavaScript.
 */
function copyLog(liveDb: Sqlite, db: Sqlite): number {
  if (liveDb.memory) return copyEvents(liveDb, db).lastSeq;
  db.prepare('ATTACH DATABASE ? AS replay_live').run(liveDb.name);
  try {
    db.transaction(() => {
      for (const table of ['log_streams', 'log_types', 'log_commits', 'log_events']) {
        // A bare SELECT * into an empty table of the same shape is SQLite's transfer
        // optimisation: each b-tree copied in page order, rowids kept, no record decoded
        // and no random insert into the streams' name index (an ORDER BY would forgo it:
        // a million streams took 2.4 s instead of 0.3 s).
        db.exec(`INSERT INTO main.${table} SELECT * FROM replay_live.${table}`);
      }
    })();
  } finally {
    db.exec('DETACH DATABASE replay_live');
  }
  return (db.prepare('SELECT coalesce(max(seq), 0) FROM events').pluck().get() as number) ?? 0;
}

/**
 * Copies the live log (one snapshot: a running server may keep appending) into a new file
 * and builds every projection there from seq 0. The live database is only read.
 */
export function rebuildInto(scratchFile: string, liveDb: Sqlite, options: RebuildOptions): Scratch {
  // Empty: claimed by claimScratch; anything more is another build's.
  if ((sizeOf(scratchFile) ?? 0) > 0) throw new Error(`${scratchFile} already exists`);
  const db = openDatabase(scratchFile);
  try {
    // A throwaway file (a failed or killed replay discards it): durability buys nothing,
    // so no fsync, a rollback journal in memory only, and no zeroing of freed cells (the
    // log it is built from is already erased where it must be).
    // Not locking_mode = EXCLUSIVE: it holds on to the locks of every attached database
    // too, and copyLog attaches the live one (a server then gets SQLITE_BUSY).
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF');
    db.pragma('secure_delete = OFF');
    db.pragma('temp_store = MEMORY');
    db.pragma(`cache_size = -${CACHE_KIB}`);
    // The deferred index builds sort a million keys each: a helper thread shares the sort.
    db.pragma(`threads = ${SORT_THREADS}`);
    // Pages read through the map take no slot in the page cache: the scan of the copied log
    // no longer evicts the projections' index pages that random keys keep coming back to.
    db.pragma(`mmap_size = ${MMAP_BYTES}`);
    migrateLog(db, () => 'scratch');
    db.exec('DROP INDEX IF EXISTS log_events_stream');
    const copyStarted = performance.now();
    const lastSeq = copyLog(liveDb, db);
    const copySeconds = (performance.now() - copyStarted) / 1000;
    const projector = createProjector(
      db,
      createEventStore(db, options.catalogue),
      options.projections,
    );
    // Nobody else opens the scratch, and a failed rebuild discards it: the projections may
    // hold rows in memory and write them at the end (Projection.bulk).
    const leaveFrom = options.leaveIndexesFrom;
    // Counted once per table: a large table has several deferred indexes.
    const counted = new Map<string, number>();
    const rowsOf = (table: string) => {
      let rows = counted.get(table);
      if (rows === undefined) {
        rows = db
          .prepare(`SELECT count(*) FROM ${quoteIdent(table)}`)
          .pluck()
          .get() as number;
        counted.set(table, rows);
      }
      return rows;
    };
    const { unbuilt, ...rebuilt } = projector.rebuildAll(options.onProgress, {
      batch: SCRATCH_BATCH,
      deferIndexes: true,
      bulk: true,
      leaveIndex: leaveFrom === undefined ? undefined : (index) => rowsOf(index.table) >= leaveFrom,
    });
    return {
      file: scratchFile,
      db,
      projector,
      head: lastSeq,
      times: { copySeconds, ...rebuilt },
      unbuiltIndexes: unbuilt,
      close: () => {
        if (db.open) db.close();
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Brings the scratch up to the live log's head and compares every projection table,
 * all inside one read snapshot of the live database, so a server appending meanwhile
 * cannot make equal tables look different.
 */
export function checkAgainstLive(
  scratch: Scratch,
  liveDb: Sqlite,
  maxExamples = 20,
): { head: number; diffs: TableDiff[] } {
  return liveDb
    .transaction(() => {
      scratch.head = copyEvents(liveDb, scratch.db, scratch.head).lastSeq;
      scratch.projector.catchUp();
      const tables = allTables(scratch.projector.projections);
      return {
        head: scratch.head,
        diffs: compareProjections(scratch.db, liveDb, tables, maxExamples),
      };
    })
    .deferred();
}

/** What a swap did, and the longest it held the live database's write lock. */
export interface SwapReport {
  readonly head: number;
  readonly caughtUp: number;
  /** Tables copied in beside the live ones before the swap and renamed in by it. */
  readonly staged: readonly string[];
  /** The swap's own transaction. */
  readonly swapLockSeconds: number;
  /** The longest write transaction of the whole swap (staging, swap, clean-up). */
  readonly longestLockSeconds: number;
  /** Which transaction that was. */
  readonly longestLock: string;
  readonly stagingSeconds: number;
  /** Removing the replaced tables after the swap. */
  readonly cleanupSeconds: number;
}

/**
 * Replaces the live projections with the scratch's, then applies the events a running
 * server appended after the scratch was built, so the live tables end at the live head.
 * Large tables are staged beside the live ones first and renamed in (staged-swap.ts); the
 * rest are refilled in the swap's one BEGIN IMMEDIATE transaction. The scratch connection
 * must be closed.
 */
export function swapIntoLive(
  scratchFile: string,
  live: LiveLog,
  stageMinRows = STAGE_MIN_ROWS,
  onStep?: (step: string) => void,
  unbuiltIndexes: readonly DeferredIndex[] = [],
): SwapReport {
  const { db, store, projector } = live;
  const tables = allTables(projector.projections);
  // ATTACH is not allowed inside a transaction; the schema name is a constant.
  db.prepare('ATTACH DATABASE ? AS replay_scratch').run(scratchFile);
  const cacheSize = db.pragma('cache_size', { simple: true }) as number;
  db.pragma(`cache_size = -${CACHE_KIB}`);
  const timer = lockTimer(db);
  let swapMs = 0;
  try {
    const stagingStarted = performance.now();
    // A killed replay's staged tables, before they take the space of this one's twice.
    removeReplayLeftovers(db, timer, onStep);
    const staged = stageTables(
      db,
      'replay_scratch',
      tables,
      timer,
      stageMinRows,
      onStep,
      unbuiltIndexes,
    );
    const stagedNames = new Set(staged.map((s) => s.table));
    // A table the scratch left indexes to but that was not staged after all (a live table
    // with triggers, say): built in the scratch, which takes no lock of the live database,
    // before the swap refills from it.
    for (const index of unbuiltIndexes) {
      if (stagedNames.has(index.table)) continue;
      onStep?.(`building ${index.name} in the scratch`);
      buildInScratch(db, 'replay_scratch', index);
    }
    const stagingSeconds = (performance.now() - stagingStarted) / 1000;
    const rest = tables.filter((t) => !stagedNames.has(t));
    onStep?.('swapping the tables in');
    // Schema edits only when there is something to rename: a small database swaps as before.
    const edits = staged.length > 0 ? withSchemaEdits : <T>(_: Sqlite, fn: () => T) => fn();
    const swapped = edits(db, () => {
      const started = performance.now();
      try {
        return inWriteTransaction(db, () => {
          // Refilled first, while the staged tables are not yet in: the triggers of a
          // refilled table (devices) then move counts in the old tables (the old
          // user_device_counts), not in the staged ones, which are already right.
          refill(db, projector, rest);
          renameStaged(db, staged);
          return catchUpInSwap(db, store, projector);
        });
      } finally {
        swapMs = performance.now() - started;
      }
    });
    db.exec('DETACH DATABASE replay_scratch');
    // The replaced tables, zeroed (secure_delete) one b-tree per transaction, not in the swap.
    const cleanupStarted = performance.now();
    removeReplayLeftovers(db, timer, onStep);
    return {
      ...swapped,
      staged: [...stagedNames],
      swapLockSeconds: swapMs / 1000,
      longestLockSeconds: Math.max(swapMs, timer.longestMs) / 1000,
      longestLock: swapMs >= timer.longestMs ? 'the swap' : timer.longest,
      stagingSeconds,
      cleanupSeconds: (performance.now() - cleanupStarted) / 1000,
    };
  } catch (err) {
    // A failed staging or swap (a full disk, say) leaves the live tables as they were; what
    // it staged goes now rather than at the next replay, if the database lets it.
    try {
      removeReplayLeftovers(db, timer);
    } catch {
      // The next replay removes them.
    }
    throw err;
  } finally {
    db.pragma(`cache_size = ${cacheSize}`);
    const attached = db
      .prepare("SELECT 1 FROM pragma_database_list WHERE name = 'replay_scratch'")
      .get();
    if (attached) db.exec('DETACH DATABASE replay_scratch');
  }
}

/** Inside the swap: the tables not staged, emptied and refilled from the scratch. */
function refill(db: Sqlite, projector: Projector, tables: readonly string[]): void {
  // Projection tables may reference each other; checks run at commit, on the final rows.
  db.pragma('defer_foreign_keys = ON');
  const columnsOf = (schema: string, table: string) =>
    db
      .prepare('SELECT name FROM pragma_table_info(?, ?) ORDER BY cid')
      .pluck()
      .all(table, schema) as string[];
  // A table whose columns match the scratch's, in order, is refilled by INSERT … SELECT *,
  // which SQLite runs as a page-order copy of the table and each of its indexes (the
  // transfer optimisation) when the table has no triggers. A table that differs (an
  // older live shape) is filled by column name, and the indexes only queries read are
  // dropped for that and built again over the sorted rows.
  const sameShape = new Set(
    tables.filter(
      (t) => columnsOf('main', t).join('\0') === columnsOf('replay_scratch', t).join('\0'),
    ),
  );
  const refilled = new Set(tables);
  const indexTable = db.prepare(
    "SELECT tbl_name, sql FROM main.sqlite_master WHERE type = 'index' AND name = ?",
  );
  const recreate = projector.projections
    .flatMap((p) => p.deferredIndexes ?? [])
    .flatMap((name) => {
      const index = indexTable.get(name) as { tbl_name: string; sql: string } | undefined;
      if (index === undefined || sameShape.has(index.tbl_name)) return [];
      if (!refilled.has(index.tbl_name)) return [];
      db.exec(`DROP INDEX main.${quoteIdent(name)}`);
      return [index.sql];
    });
  for (const table of [...tables].reverse()) db.exec(`DELETE FROM main.${quoteIdent(table)}`);
  for (const table of tables) {
    if (sameShape.has(table)) {
      db.exec(
        `INSERT INTO main.${quoteIdent(table)} SELECT * FROM replay_scratch.${quoteIdent(table)}`,
      );
      continue;
    }
    const columns = columnsOf('replay_scratch', table).map(quoteIdent);
    db.exec(
      `INSERT INTO main.${quoteIdent(table)} (${columns.join(', ')})
       SELECT ${columns.join(', ')} FROM replay_scratch.${quoteIdent(table)}`,
    );
  }
  for (const sql of recreate) db.exec(sql);
}

/** Inside the swap: the checkpoints, then the events appended after the scratch's head. */
function catchUpInSwap(
  db: Sqlite,
  store: EventStore,
  projector: Projector,
): { head: number; caughtUp: number } {
  db.exec(
    `INSERT OR REPLACE INTO main.projection_checkpoints (name, version, position)
     SELECT name, version, position FROM replay_scratch.projection_checkpoints`,
  );
  let position = db
    .prepare('SELECT coalesce(max(seq), 0) FROM replay_scratch.events')
    .pluck()
    .get() as number;
  let caughtUp = 0;
  for (;;) {
    const events = store.readRange(position, BATCH);
    if (events.length === 0) break;
    projector.apply(events);
    caughtUp += events.length;
    position = events[events.length - 1]!.seq;
  }
  return { head: position, caughtUp };
}

// Catch-up rounds before the swap stop once a round found no more than this many events.
const CAUGHT_UP = 1000;
const CATCH_UP_ROUNDS = 5;

/**
 * Applies to the scratch the events a running server appended while it was built, in a
 * few rounds, so that the swap, which holds the write lock, is left only the last few.
 */
function catchUpOutsideLock(scratch: Scratch, liveDb: Sqlite): void {
  for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
    const { copied, lastSeq } = copyEvents(liveDb, scratch.db, scratch.head);
    if (copied === 0) return;
    scratch.head = lastSeq;
    scratch.projector.catchUp();
    if (copied <= CAUGHT_UP) return;
  }
}

export interface ReplayOptions extends Omit<RebuildOptions, 'projections'> {
  /** Where the scratch file goes; on the data directory's file system. */
  readonly scratchDir: string;
  /** A scratch file already claimed in scratchDir (claimScratch); else claimed here. */
  readonly scratchFile?: string;
  /** Compare only: the live tables are left untouched. */
  readonly check: boolean;
  readonly maxExamples?: number;
  /** Tables of at least this many rows are staged beside the live ones (staged-swap.ts). */
  readonly stageMinRows?: number;
  /** Each step of the swap as it starts, for an operator watching a long one. */
  readonly onSwapStep?: (step: string) => void;
}

export interface ReplayReport {
  /** Events the scratch rebuild went through. */
  readonly events: number;
  readonly rebuildSeconds: number;
  /** The parts of rebuildSeconds: the log copied, loaded, and indexed. */
  readonly buildTimes: BuildTimes;
  /** The log head the live projections were compared at or now stand at. */
  readonly head: number;
  /** Events appended during the rebuild and applied afterwards. */
  readonly caughtUp: number;
  readonly diffs: readonly TableDiff[];
  /** Not for a check: the swap's figures (swapIntoLive). */
  readonly swap?: Omit<SwapReport, 'head' | 'caughtUp'>;
}

/** Rebuilds every projection from the log aside, then checks or replaces the live ones. */
export function replayProjections(live: LiveLog, options: ReplayOptions): ReplayReport {
  const file = options.scratchFile ?? claimScratch(options.scratchDir);
  try {
    const started = performance.now();
    const scratch = rebuildInto(file, live.db, {
      ...options,
      projections: live.projector.projections,
      // A check compares rows only; a swap stages the large tables and builds their
      // deferred indexes there.
      leaveIndexesFrom: options.check ? undefined : (options.stageMinRows ?? STAGE_MIN_ROWS),
    });
    const rebuildSeconds = (performance.now() - started) / 1000;
    const events = scratch.head;
    const buildTimes = scratch.times;
    const unbuiltIndexes = scratch.unbuiltIndexes;
    try {
      if (!options.check) catchUpOutsideLock(scratch, live.db);
      if (options.check) {
        const { head, diffs } = checkAgainstLive(scratch, live.db, options.maxExamples);
        return { events, rebuildSeconds, buildTimes, head, caughtUp: head - events, diffs };
      }
    } finally {
      scratch.close();
    }
    const {
      head,
      caughtUp: _caughtUp,
      ...swap
    } = swapIntoLive(file, live, options.stageMinRows, options.onSwapStep, unbuiltIndexes);
    return { events, rebuildSeconds, buildTimes, head, caughtUp: head - events, diffs: [], swap };
  } finally {
    removeScratch(file);
  }
}
