import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { randomIds } from '../ids.js';
import {
  CATALOGUE,
  LOG_FORMAT_VERSION,
  LogFormatError,
  openDatabase,
  readEpoch,
  recordRestore,
  verifyLog,
} from '../log/index.js';
import { anchorHead } from '../log/anchor-keeper.js';
import { anchorKeySourceOf } from '../log/anchor-key.js';
import { replayProjections } from '../projections/rebuild.js';
import { databaseFileOf, openRuntime } from '../runtime.js';
import { unpackVerified } from './archive-read.js';
import { fsyncParent, fsyncPath } from '../fsync.js';
import type { Manifest } from './manifest.js';

/**
 * How far past the restored head the log resumes. A device may hold any seq the lost
 * server reached; a billion events is far beyond what a server appends between two
 * backups, and 2^53 leaves room for millions of restores.
 */
export const RESUME_GAP = 1_000_000_000;

export type RestorePhase = 'unpack' | 'verify' | 'replay';

export interface RestoreOptions {
  readonly archive: string;
  readonly dataDir: string;
  readonly force?: boolean;
  readonly now?: () => Date;
  readonly newEpoch?: () => string;
  readonly onProgress?: (phase: RestorePhase, done: number, total: number) => void;
}

export interface RestoreSummary {
  readonly data_dir: string;
  readonly head_seq: number;
  readonly chain_head: string;
  /** The next event appended gets this + 1. */
  readonly resumed_after: number;
  readonly epoch: string;
  readonly previous_epoch: string;
  /** Where the directory that was there before now lives (with --force), else null. */
  readonly kept_aside: string | null;
  readonly events: number;
  readonly files: number;
  /** Blobs the backup lacked already (taken with --allow-missing-blobs). */
  readonly missing_blobs: number;
  readonly seconds: number;
}

const isEmptyDir = (dir: string) => readdirSync(dir).length === 0;

const stamp = (at: Date) =>
  at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/**
 * The head of the database being replaced, if it can be read: devices may have seen any
 * seq up to it, so the restored log resumes past it too. A damaged or missing one (often
 * the reason for the restore) just leaves the gap at RESUME_GAP.
 */
function previousHead(dataDir: string): number {
  const file = databaseFileOf(dataDir);
  if (!existsSync(file)) return 0;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT coalesce(max(seq), 0) FROM events').pluck().get() as number) ?? 0;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

/**
 * A running server keeps its database open; moving the directory from under it would
 * leave it writing to the copy kept aside. An exclusive lock is only granted when no
 * other connection has the database open.
 */
function refuseIfInUse(dataDir: string): void {
  const file = databaseFileOf(dataDir);
  if (!existsSync(file)) return;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true, timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('ROLLBACK');
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
      throw new Error(
        `${file} is in use: stop the server (and any command using ${dataDir}) before restoring`,
        { cause: err },
      );
    }
    // Unreadable (damaged, not a database): nothing runs on it; it is kept aside.
  } finally {
    db?.close();
  }
}

function tightenModes(dir: string): void {
  chmodSync(dir, 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) tightenModes(path);
    else chmodSync(path, 0o600);
  }
  fsyncPath(dir);
}

/** The checks a restore must pass before it replaces anything; throws naming the failure. */
function checkRestoredLog(
  scratch: string,
  manifest: Manifest,
  archive: string,
  onProgress: (done: number, total: number) => void,
) {
  if (manifest.log.format > LOG_FORMAT_VERSION) {
    throw new LogFormatError(manifest.log.format, archive);
  }
  const db = openDatabase(databaseFileOf(scratch), { mustExist: true });
  try {
    const result = verifyLog(db, onProgress);
    if (result.format !== manifest.log.format) {
      throw new Error(
        `${archive}: the database is in log format ${result.format}, the manifest says ${manifest.log.format}: the archive is inconsistent`,
      );
    }
    const first = result.problems[0];
    if (first || result.integrity.length > 0) {
      throw new Error(
        `${archive}: the archive is intact but its database fails verify ` +
          (first ? `(seq ${first.seq}: ${first.problem})` : `(integrity: ${result.integrity[0]})`) +
          '; use an older backup',
      );
    }
    const head = db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() as
      { seq: number; hash: string } | undefined;
    if (
      (head?.seq ?? 0) !== manifest.log.head_seq ||
      (head && head.hash !== manifest.log.chain_head)
    ) {
      throw new Error(
        `${archive}: the database ends at seq ${head?.seq ?? 0}, the manifest says ${manifest.log.head_seq}: the archive is inconsistent`,
      );
    }
    return { db, events: result.events, previousEpoch: readEpoch(db) };
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Restores a backup into `dataDir`: the archive is checked and unpacked into a scratch
 * directory beside it, the log verified, the projections checked by a replay, a new epoch
 * and a seq gap recorded, and only then is the scratch moved into place (the previous
 * directory, with --force, renamed to `<dir>.before-restore-<time>`, never deleted).
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreSummary> {
  const started = performance.now();
  const now = options.now ?? (() => new Date());
  const progress = options.onProgress ?? (() => {});
  const { archive, dataDir } = options;
  if (!existsSync(archive)) throw new Error(`${archive} does not exist`);
  const present = existsSync(dataDir);
  if (present && !statSync(dataDir).isDirectory()) {
    throw new Error(`${dataDir} exists and is not a directory`);
  }
  const occupied = present && !isEmptyDir(dataDir);
  if (occupied && !options.force) {
    throw new Error(
      `${dataDir} is not empty: restore into a new directory, or pass --force to keep the ` +
        `current one aside as ${basename(dataDir)}.before-restore-<time> and restore in its place`,
    );
  }
  if (occupied) refuseIfInUse(dataDir);

  mkdirSync(dirname(dataDir), { recursive: true });
  const scratch = mkdtempSync(`${dataDir}.restore-`);
  try {
    const manifest = await unpackVerified(archive, scratch, (d, t) => progress('unpack', d, t));
    const { db, events, previousEpoch } = checkRestoredLog(scratch, manifest, archive, (d, t) =>
      progress('verify', d, t),
    );
    const epoch = (options.newEpoch ?? randomIds.epoch)();
    const head = manifest.log.head_seq;
    const resumeAfter = Math.max(head + RESUME_GAP, previousHead(dataDir));
    try {
      recordRestore(db, epoch, { after: head, resumeAfter });
    } finally {
      db.close();
    }

    const runtime = openRuntime({ dataDir: scratch });
    try {
      const report = replayProjections(runtime, {
        scratchDir: join(scratch, 'tmp'),
        check: true,
        catalogue: CATALOGUE,
        onProgress: (d, t) => progress('replay', d, t),
      });
      if (report.diffs.length > 0) {
        throw new Error(
          `${archive}: the restored projections differ from its log (${report.diffs
            .map((d) => d.table)
            .join(', ')}); run \`replay\` on a copy to see why, or use an older backup`,
        );
      }
      // The archive holds no anchor (the live one would be ahead of it): the verified log is
      // anchored afresh, with the archive's key or the credential this command runs with.
      anchorHead(runtime.db, scratch, anchorKeySourceOf(scratch, process.env), 'closed');
    } finally {
      runtime.close();
    }
    for (const leftover of ['server.db-wal', 'server.db-shm']) {
      rmSync(join(scratch, leftover), { force: true });
    }
    tightenModes(scratch);

    let keptAside: string | null = null;
    if (occupied) {
      keptAside = `${dataDir}.before-restore-${stamp(now())}`;
      renameSync(dataDir, keptAside);
    } else if (present) {
      rmdirSync(dataDir);
    }
    renameSync(scratch, dataDir);
    fsyncParent(dataDir);
    return {
      data_dir: dataDir,
      head_seq: head,
      chain_head: manifest.log.chain_head,
      resumed_after: resumeAfter,
      epoch,
      previous_epoch: previousEpoch,
      kept_aside: keptAside,
      events,
      files: manifest.files.length,
      missing_blobs: manifest.missing_blobs?.length ?? 0,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
}
