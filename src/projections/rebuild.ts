import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
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
import { createProjector, type Progress, type Projector } from './projector.js';

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
}

/** A scratch database holding a copy of the log and projections rebuilt from it. */
export interface Scratch {
  readonly file: string;
  readonly db: Sqlite;
  readonly projector: Projector;
  /** The last seq of the copied log. */
  head: number;
  close(): void;
}

const BATCH = 5000;

const allTables = (projections: readonly Projection[]) => projections.flatMap((p) => p.tables);

export const scratchFileIn = (dir: string) =>
  join(dir, `replay-${randomBytes(8).toString('hex')}.db`);

export function removeScratch(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`])
    rmSync(f, { force: true });
}

/**
 * Copies the live log (one snapshot: a running server may keep appending) into a new file
 * and builds every projection there from seq 0. The live database is only read.
 */
export function rebuildInto(scratchFile: string, liveDb: Sqlite, options: RebuildOptions): Scratch {
  if (existsSync(scratchFile)) throw new Error(`${scratchFile} already exists`);
  const db = openDatabase(scratchFile);
  try {
    // A throwaway file: durability buys nothing here and costs an fsync per batch.
    db.pragma('synchronous = OFF');
    migrateLog(db, () => 'scratch');
    const { lastSeq } = copyEvents(liveDb, db);
    const projector = createProjector(
      db,
      createEventStore(db, options.catalogue),
      options.projections,
    );
    projector.rebuildAll(options.onProgress);
    return {
      file: scratchFile,
      db,
      projector,
      head: lastSeq,
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

/**
 * Replaces the live projection rows with the scratch's in one BEGIN IMMEDIATE transaction,
 * then applies the events a running server appended after the scratch was built, so the
 * live tables end at the live head. The scratch connection must be closed.
 */
export function swapIntoLive(
  scratchFile: string,
  live: LiveLog,
): { head: number; caughtUp: number } {
  const { db, store, projector } = live;
  const tables = allTables(projector.projections);
  // ATTACH is not allowed inside a transaction; the schema name is a constant.
  db.prepare('ATTACH DATABASE ? AS replay_scratch').run(scratchFile);
  try {
    return inWriteTransaction(db, () => {
      // Projection tables may reference each other; checks run at commit, on the final rows.
      db.pragma('defer_foreign_keys = ON');
      for (const table of [...tables].reverse()) db.exec(`DELETE FROM main.${quoteIdent(table)}`);
      for (const table of tables) {
        const columns = (
          db
            .prepare("SELECT name FROM pragma_table_info(?, 'replay_scratch') ORDER BY cid")
            .pluck()
            .all(table) as string[]
        ).map(quoteIdent);
        db.exec(
          `INSERT INTO main.${quoteIdent(table)} (${columns.join(', ')})
           SELECT ${columns.join(', ')} FROM replay_scratch.${quoteIdent(table)}`,
        );
      }
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
    });
  } finally {
    db.exec('DETACH DATABASE replay_scratch');
  }
}

export interface ReplayOptions extends Omit<RebuildOptions, 'projections'> {
  /** Where the scratch file goes; on the data directory's file system. */
  readonly scratchDir: string;
  /** Compare only: the live tables are left untouched. */
  readonly check: boolean;
  readonly maxExamples?: number;
}

export interface ReplayReport {
  /** Events the scratch rebuild went through. */
  readonly events: number;
  readonly rebuildSeconds: number;
  /** The log head the live projections were compared at or now stand at. */
  readonly head: number;
  /** Events appended during the rebuild and applied afterwards. */
  readonly caughtUp: number;
  readonly diffs: readonly TableDiff[];
}

/** Rebuilds every projection from the log aside, then checks or replaces the live ones. */
export function replayProjections(live: LiveLog, options: ReplayOptions): ReplayReport {
  const file = scratchFileIn(options.scratchDir);
  try {
    const started = performance.now();
    const scratch = rebuildInto(file, live.db, {
      ...options,
      projections: live.projector.projections,
    });
    const rebuildSeconds = (performance.now() - started) / 1000;
    const events = scratch.head;
    try {
      if (options.check) {
        const { head, diffs } = checkAgainstLive(scratch, live.db, options.maxExamples);
        return { events, rebuildSeconds, head, caughtUp: head - events, diffs };
      }
    } finally {
      scratch.close();
    }
    const { head, caughtUp } = swapIntoLive(file, live);
    return { events, rebuildSeconds, head, caughtUp, diffs: [] };
  } finally {
    removeScratch(file);
  }
}
