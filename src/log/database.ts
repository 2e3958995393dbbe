import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  statSync,
} from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type Sqlite = Database.Database;

export interface OpenOptions {
  /** Refuse to create a new file (operator commands on an existing data directory). */
  readonly mustExist?: boolean;
  readonly readonly?: boolean;
}

/**
 * Opens the server database with the durability settings the log relies on.
 * better-sqlite3 is compiled with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so in WAL mode
 * commits are not fsynced unless synchronous=FULL is set explicitly here
 * (reading the pragma back reports FULL either way).
 */
export function openDatabase(file: string, options: OpenOptions = {}): Sqlite {
  let db: Sqlite | undefined;
  try {
    if (!options.readonly && file !== ':memory:') ownerOnly(file, options.mustExist ?? false);
    db = new Database(file, {
      fileMustExist: options.mustExist ?? false,
      readonly: options.readonly ?? false,
    });
    if (!options.readonly) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 10000');
    db.pragma('foreign_keys = ON');
    // Freed pages and cells are zeroed, so erased content (a deleted user's) leaves no bytes.
    if (!options.readonly) db.pragma('secure_delete = ON');
    return db;
  } catch (err) {
    db?.close();
    throw new DatabaseOpenError(file, err as Error & { code?: string });
  }
}

/**
 * What SQLite and the file system say when a database cannot be opened, in words an
 * operator can act on: `unable to open database file` alone names neither the file nor why.
 */
const OPEN_FAILURES: readonly { match: RegExp; cause: string; todo: string }[] = [
  {
    match: /^EISDIR/,
    cause: 'is a directory, not a database file',
    todo: 'move it out of the way, or restore the data directory from a backup',
  },
  {
    match: /^ENOENT|^ENOTDIR/,
    cause: 'cannot be opened: its directory does not exist',
    todo: 'check the --data path and that the directory exists',
  },
  {
    // A directory that exists and may be written: what is left is the file itself.
    match: /^SQLITE_CANTOPEN$/,
    cause: 'cannot be opened, nor its -wal and -shm files created beside it',
    todo: 'let the service user read and write the data directory and its files (owner, mode)',
  },
  {
    match: /^SQLITE_READONLY|^EROFS|^EACCES|^EPERM/,
    cause: 'is read-only to this process',
    todo: 'let the service user read and write the data directory and its files (owner, mode), and check that its file system is not mounted read-only',
  },
  {
    match: /^SQLITE_FULL|^ENOSPC/,
    cause: 'cannot be written: the disk is full',
    todo: 'free space on the disk that holds the data directory, then start again',
  },
  {
    match: /^SQLITE_IOERR|^EIO/,
    cause: 'cannot be read or written: the disk reported an I/O error',
    todo: 'check the disk (dmesg, SMART) and its free space; then run verify, and restore from a backup if it finds damage',
  },
  {
    match: /^SQLITE_NOTADB|^SQLITE_CORRUPT/,
    cause: 'is damaged or not a database',
    todo: 'restore the data directory from a backup',
  },
  {
    match: /^SQLITE_BUSY|^SQLITE_LOCKED/,
    cause: 'is locked by another process',
    todo: 'stop the other process using it, then start again',
  },
];

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/**
 * Why SQLite could not open `file`, as a code OPEN_FAILURES knows: a missing directory, or
 * one this process may not write (no -wal or -shm can be created).
 */
function cantOpenReason(file: string): string {
  const dir = dirname(file);
  if (!existsSync(dir)) return 'ENOENT';
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return 'EROFS';
  }
  return 'SQLITE_CANTOPEN';
}

/** A database that cannot be opened: the message names the file, the cause and what to do. */
export class DatabaseOpenError extends Error {
  /** SQLite's or the system's code, kept for callers that act on it. */
  readonly code: string | undefined;
  constructor(file: string, cause: Error & { code?: string }) {
    // SQLite reports a directory in the file's place as an I/O error or as "cannot open".
    const code = isDirectory(file)
      ? 'EISDIR'
      : cause.code === 'SQLITE_CANTOPEN'
        ? cantOpenReason(file)
        : cause.code;
    const known = OPEN_FAILURES.find((f) => f.match.test(code ?? ''));
    super(
      known
        ? `${file} ${known.cause} (${cause.message}) — ${known.todo}`
        : `${file} cannot be opened (${cause.message})`,
      { cause },
    );
    this.name = 'DatabaseOpenError';
    this.code = cause.code;
  }
}

/**
 * Runs `fn` in a BEGIN IMMEDIATE transaction, so another process cannot interleave a write.
 * Inside a caller's transaction it runs in a savepoint instead: `fn` stays all-or-nothing
 * even when the caller catches its error and commits the rest.
 */
export function inWriteTransaction<T>(db: Sqlite, fn: () => T): T {
  if (db.inTransaction) return db.transaction(fn)();
  return db.transaction(fn).immediate();
}

/**
 * The database holds password hashes and session digests: 0600 whatever the umask. SQLite
 * would create it 0644 less the umask and gives its -wal and -shm the database's mode, so
 * the file is created (empty is a valid new database) or narrowed before SQLite opens it.
 */
function ownerOnly(file: string, mustExist: boolean) {
  if (!existsSync(file)) {
    if (mustExist) return;
    closeSync(openSync(file, 'a', 0o600));
  }
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(path)) chmodSync(path, 0o600);
  }
}
