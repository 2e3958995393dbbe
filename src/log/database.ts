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
