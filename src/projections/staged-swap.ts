import type { Sqlite } from '../log/index.js';
import { quoteIdent } from './compare.js';
import type { DeferredIndex } from './projector.js';

/**
 * A replay's large projection tables, moved into the live database without holding its
 * write lock for the whole of them at once.
 *
 * Copying a million users into the live tables in the swap's one transaction held the write
 * lock for 5–18 s (zeroing the old rows under secure_delete, copying every b-tree of three
 * tables, then the commit's fsync of a WAL that size), over the server's 10 s busy timeout
 * under load. Instead each large table is first copied into `replay_new_<table>`, a table
 * no query names, one table per transaction, and the swap only renames: the live table
 * becomes `replay_old_<table>`, the staged one takes its name, and the index names follow.
 * Afterwards the old tables are dropped one b-tree per transaction. The longest lock is now
 * the copy of the largest table (users), which still grows with it.
 *
 * A large table's deferred indexes (Projection.deferredIndexes) are not built in the scratch
 * but here, on the staged table, each CREATE INDEX its own transaction: their pages are
 * written once, not written in the scratch and then copied, and the copy's lock is the
 * table's rows alone.
 *
 * Why a server reading and writing meanwhile stays correct:
 * - Until the swap commits, no statement of the server names a staged table, so it reads
 *   and writes the old live tables exactly as before; the staged rows are the scratch's,
 *   built from the log up to `scratch.head`.
 * - The swap is one BEGIN IMMEDIATE transaction: the renames, the refill of the small
 *   tables and the events appended after `scratch.head` (applied to the renamed tables)
 *   commit together, so a reader's snapshot holds either all old or all new tables, at
 *   the head of the log it sees.
 * - The rename bumps the schema cookie: the server's connections reload the schema at
 *   their next statement and re-prepare theirs against the new tables by name.
 * - legacy_alter_table keeps other tables' triggers (the counters') naming the table by
 *   name, so they write to the new table rather than following the old one; tables with
 *   triggers of their own, or without rowid, are not staged but refilled in the swap.
 * - Index names live in the schema table and cannot be changed by ALTER; they are set there
 *   directly (writable_schema), inside the same transaction, to exactly the names and
 *   statements the projection creates, so `init`'s CREATE INDEX IF NOT EXISTS finds them.
 * A replay killed before the swap leaves `replay_new_*` tables that no query reads; killed
 * after it, `replay_old_*` ones. The next replay, or the next server start while no replay
 * runs (cli/serve.ts), drops them (removeReplayLeftovers).
 */

const NEW = 'replay_new_';
const OLD = 'replay_old_';
// Below this many rows a table is refilled inside the swap: it costs less than its staging.
export const STAGE_MIN_ROWS = 20_000;

const IDENT = String.raw`("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const CREATE_TABLE = new RegExp(String.raw`^CREATE TABLE ${IDENT}`, 'i');
const CREATE_INDEX = new RegExp(String.raw`^(CREATE (?:UNIQUE )?INDEX )${IDENT} ON ${IDENT}`, 'i');
const unquote = (token: string) =>
  token.startsWith('"') ? token.slice(1, -1).replaceAll('""', '"') : token;

/** The CREATE INDEX statement with another index and table name, or undefined if odd. */
function renameIndexSql(
  sql: string,
  index: string,
  table: string,
  newIndex: string,
  newTable: string,
) {
  const m = CREATE_INDEX.exec(sql);
  if (!m || unquote(m[2]!) !== index || unquote(m[3]!) !== table) return undefined;
  return `${m[1]}${quoteIdent(newIndex)} ON ${quoteIdent(newTable)}${sql.slice(m[0].length)}`;
}

interface NamedIndex {
  readonly name: string;
  readonly sql: string;
}

export interface StagedTable {
  readonly table: string;
  /** The scratch's named indexes: the names and statements the swap gives the new table. */
  readonly indexes: readonly NamedIndex[];
}

/** Write transactions outside the swap, with the longest one's duration (the lock held). */
export interface LockTimer {
  /** `what` names the transaction, for the longest one's report. */
  write<T>(what: string, fn: () => T): T;
  longestMs: number;
  longest: string;
}

export function lockTimer(db: Sqlite): LockTimer {
  const timer: LockTimer = {
    longestMs: 0,
    longest: '',
    write<T>(what: string, fn: () => T): T {
      const started = performance.now();
      try {
        return db.transaction(fn).immediate();
      } finally {
        const ms = performance.now() - started;
        if (ms > timer.longestMs) {
          timer.longestMs = ms;
          timer.longest = what;
        }
      }
    },
  };
  return timer;
}

const namedIndexes = (db: Sqlite, schema: string, table: string) =>
  db
    .prepare(
      `SELECT name, sql FROM ${schema}.sqlite_master
       WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`,
    )
    .all(table) as NamedIndex[];

const objectSql = (db: Sqlite, schema: string, type: string, name: string) =>
  db
    .prepare(`SELECT sql FROM ${schema}.sqlite_master WHERE type = ? AND name = ?`)
    .pluck()
    .get(type, name) as string | undefined;

const hasTriggers = (db: Sqlite, schema: string, table: string) =>
  db
    .prepare(`SELECT 1 FROM ${schema}.sqlite_master WHERE type = 'trigger' AND tbl_name = ?`)
    .get(table) !== undefined;

/** The staged table's CREATE TABLE, or undefined when the table is not one to stage. */
function stagedTableSql(db: Sqlite, scratch: string, table: string): string | undefined {
  const sql = objectSql(db, scratch, 'table', table);
  const live = objectSql(db, 'main', 'table', table);
  if (sql === undefined || live === undefined) return undefined;
  if (/\bWITHOUT\s+ROWID\b/i.test(sql)) return undefined;
  if (hasTriggers(db, scratch, table) || hasTriggers(db, 'main', table)) return undefined;
  const m = CREATE_TABLE.exec(sql);
  if (!m || unquote(m[1]!) !== table) return undefined;
  return `CREATE TABLE ${quoteIdent(NEW + table)}${sql.slice(m[0].length)}`;
}

/** `index` created in the attached `scratch` rather than in the live database. */
export function buildInScratch(db: Sqlite, scratch: string, index: DeferredIndex): void {
  const m = CREATE_INDEX.exec(index.sql);
  if (!m || unquote(m[2]!) !== index.name || unquote(m[3]!) !== index.table) {
    throw new Error(`${index.name}: an index statement the replay cannot build in its scratch`);
  }
  db.exec(
    `${m[1]}${quoteIdent(scratch)}.${quoteIdent(index.name)} ON ${quoteIdent(index.table)}` +
      index.sql.slice(m[0].length),
  );
}

/**
 * Copies the scratch's large tables (attached as `scratch`) into replay_new_* tables of
 * the live database, one table per transaction, then builds there the `unbuiltIndexes` of
 * each (one per transaction). Returns the tables staged; the others are left to the swap,
 * their unbuilt indexes too.
 */
export function stageTables(
  db: Sqlite,
  scratch: string,
  tables: readonly string[],
  timer: LockTimer,
  minRows = STAGE_MIN_ROWS,
  onStep: (step: string) => void = () => {},
  unbuiltIndexes: readonly DeferredIndex[] = [],
): StagedTable[] {
  const staged: StagedTable[] = [];
  for (const table of tables) {
    const createSql = stagedTableSql(db, scratch, table);
    if (createSql === undefined) continue;
    const rows = db
      .prepare(`SELECT count(*) FROM ${scratch}.${quoteIdent(table)}`)
      .pluck()
      .get();
    if ((rows as number) < minRows) continue;
    const indexes = namedIndexes(db, scratch, table);
    const toBuild = unbuiltIndexes.filter((i) => i.table === table);
    // Checked again by the swap, under the lock: a server started meanwhile may add one.
    const liveIndexes = namedIndexes(db, 'main', table);
    const stagedSql = indexes.map((i) =>
      renameIndexSql(i.sql, i.name, table, NEW + i.name, NEW + table),
    );
    const buildSql = toBuild.map((i) =>
      renameIndexSql(i.sql, i.name, table, NEW + i.name, NEW + table),
    );
    const oldOk = liveIndexes.every((i) =>
      renameIndexSql(i.sql, i.name, table, OLD + i.name, table),
    );
    if (stagedSql.includes(undefined) || buildSql.includes(undefined) || !oldOk) continue;

    const target = `main.${quoteIdent(NEW + table)}`;
    onStep(`copying ${table} (${rows as number} rows) beside the live table`);
    timer.write(`create ${NEW + table}`, () => {
      db.exec(`DROP TABLE IF EXISTS ${target}`);
      db.exec(createSql);
      for (const sql of stagedSql) db.exec(sql!);
    });
    // The same table and indexes, empty: SQLite copies each b-tree in page order (the
    // transfer optimisation), with no sort and no row decoded. One transaction per table:
    // a chunked copy rebuilt the indexes row by row or by sorting, three to five times
    // the work, and the lock is this table's copy alone.
    timer.write(`copy into ${NEW + table}`, () =>
      db.exec(`INSERT INTO ${target} SELECT * FROM ${scratch}.${quoteIdent(table)}`),
    );
    // Over the copied rows, one sort each; a server waits for one index at most.
    toBuild.forEach((index, k) => {
      onStep(`building ${index.name} on the copied ${table}`);
      timer.write(`create index ${NEW + index.name}`, () => db.exec(buildSql[k]!));
    });
    staged.push({
      table,
      indexes: [...indexes, ...toBuild.map(({ name, sql }) => ({ name, sql }))],
    });
  }
  return staged;
}

/**
 * Inside the swap's write transaction: the live tables become replay_old_*, the staged ones
 * take their names and indexes. The caller must have turned on writable_schema and
 * legacy_alter_table (see withSchemaEdits).
 */
export function renameStaged(db: Sqlite, staged: readonly StagedTable[]): void {
  if (staged.length === 0) return;
  const setIndex = db.prepare(
    "UPDATE main.sqlite_master SET name = ?, sql = ? WHERE type = 'index' AND name = ?",
  );
  for (const { table, indexes } of staged) {
    if (
      objectSql(db, 'main', 'table', NEW + table) === undefined ||
      hasTriggers(db, 'main', table)
    ) {
      throw new Error(
        `${table}: changed while it was staged (another replay, or a server upgrade)`,
      );
    }
    // Read under the lock: the schema the rename works on is the one that commits. Renamed
    // before the table's rename, which reloads the schema and so reads their new names in.
    for (const i of namedIndexes(db, 'main', table)) {
      const sql = renameIndexSql(i.sql, i.name, table, OLD + i.name, table);
      if (sql === undefined)
        throw new Error(`${i.name}: an index statement the swap cannot rename`);
      setIndex.run(OLD + i.name, sql, i.name);
    }
    db.exec(`ALTER TABLE main.${quoteIdent(table)} RENAME TO ${quoteIdent(OLD + table)}`);
    for (const i of indexes) setIndex.run(i.name, i.sql, NEW + i.name);
    // Reloads the schema again, now with the staged indexes under their own names.
    db.exec(`ALTER TABLE main.${quoteIdent(NEW + table)} RENAME TO ${quoteIdent(table)}`);
  }
}

/**
 * Runs `fn` with the schema table writable and ALTER TABLE RENAME in its legacy form, and
 * reloads this connection's schema afterwards. better-sqlite3's defensive mode forbids
 * writable_schema, so it is lifted for the duration only.
 */
export function withSchemaEdits<T>(db: Sqlite, fn: () => T): T {
  db.unsafeMode(true);
  db.pragma('legacy_alter_table = ON');
  db.pragma('writable_schema = ON');
  try {
    return fn();
  } finally {
    db.pragma('writable_schema = RESET');
    db.pragma('legacy_alter_table = OFF');
    db.unsafeMode(false);
  }
}

/**
 * Drops the tables a replay left in the live database (`replay_new_*` of one killed before
 * its swap, `replay_old_*` of the tables a swap replaced): each named index in a transaction
 * of its own, then the table. secure_delete zeroes every page freed, so each transaction
 * holds the lock for the writing of one b-tree's pages. (Deleting the rows in chunks kept
 * each transaction shorter but took seven times as long: the primary key's index is in
 * random order.)
 */
export function removeReplayLeftovers(
  db: Sqlite,
  timer: LockTimer = lockTimer(db),
  onStep: (step: string) => void = () => {},
): number {
  const tables = db
    .prepare(
      `SELECT name FROM main.sqlite_master WHERE type = 'table'
       AND (name LIKE 'replay\\_new\\_%' ESCAPE '\\' OR name LIKE 'replay\\_old\\_%' ESCAPE '\\')`,
    )
    .pluck()
    .all() as string[];
  for (const table of tables) {
    const q = `main.${quoteIdent(table)}`;
    onStep(`dropping ${table}`);
    for (const index of namedIndexes(db, 'main', table)) {
      timer.write(`drop ${index.name}`, () =>
        db.exec(`DROP INDEX IF EXISTS main.${quoteIdent(index.name)}`),
      );
    }
    timer.write(`drop ${table}`, () => db.exec(`DROP TABLE IF EXISTS ${q}`));
  }
  return tables.length;
}
