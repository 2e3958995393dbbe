import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
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
  if (!options.readonly && file !== ':memory:') ownerOnly(file, options.mustExist ?? false);
  const db = new Database(file, {
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
