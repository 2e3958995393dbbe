import { statSync } from 'node:fs';
import {
  GENESIS_HASH,
  LOG_FORMAT_VERSION,
  LogFormatError,
  openDatabase,
  readEpoch,
  readSchemaVersion,
} from '../log/index.js';

/** Where a copy of the log stands: what the manifest records and restore checks. */
export interface LogPosition {
  readonly headSeq: number;
  readonly chainHead: string;
  readonly epoch: string;
  /** The log's storage format (LOG_FORMAT_VERSION when this server wrote it). */
  readonly logFormat: number;
}

export interface DatabaseSnapshot {
  readonly position: LogPosition;
  /** Content the copied database knows to be stored: the blobs the backup must hold. */
  readonly blobs: readonly { sha256: string; size: number }[];
  readonly bytes: number;
}

// 1,000 pages (4 MiB) per step: the CLI's event loop turns between steps, and the
// snapshot below keeps every step reading the same version of the database.
const PAGES_PER_STEP = 1000;

/**
 * Copies a live database with SQLite's online backup API. The read transaction opened
 * first pins one WAL snapshot for every step: without it the API starts over whenever
 * another process commits between two steps, which under steady pushes is forever. A WAL
 * reader never blocks the server's writers; it only holds checkpoints back meanwhile.
 */
export async function snapshotDatabase(
  source: string,
  target: string,
  onProgress: (bytes: number, total: number) => void = () => {},
): Promise<DatabaseSnapshot> {
  const db = openDatabase(source, { mustExist: true });
  try {
    db.exec('BEGIN');
    const head = db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() as
      { seq: number; hash: string } | undefined;
    const position = {
      headSeq: head?.seq ?? 0,
      chainHead: head?.hash ?? GENESIS_HASH,
      epoch: readEpoch(db),
      logFormat: readSchemaVersion(db),
    };
    if (position.logFormat > LOG_FORMAT_VERSION) {
      throw new LogFormatError(position.logFormat, source);
    }
    const blobs = db.prepare('SELECT sha256, size FROM blobs ORDER BY sha256').all() as {
      sha256: string;
      size: number;
    }[];
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    await db.backup(target, {
      progress: ({ totalPages, remainingPages }) => {
        onProgress((totalPages - remainingPages) * pageSize, totalPages * pageSize);
        return PAGES_PER_STEP;
      },
    });
    db.exec('COMMIT');
    // Not fsynced: the copy is read into the archive and deleted; the archive is what must
    // be durable. Syncing it would write a database-sized burst to the disk for nothing.
    const bytes = statSync(target).size;
    onProgress(bytes, bytes);
    return { position, blobs, bytes };
  } finally {
    db.close();
  }
}
