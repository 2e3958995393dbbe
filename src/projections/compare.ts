import type { Sqlite } from '../log/index.js';

export type Row = Record<string, unknown>;

/** How one projection table differs between a rebuilt database and the live one. */
export interface TableDiff {
  readonly table: string;
  /** Set when the tables cannot be compared row by row (missing, other columns). */
  readonly shape?: string;
  /** Rows the log produces that the live table lacks (or holds with other values). */
  readonly onlyRebuilt: number;
  /** Rows of the live table the log does not produce. */
  readonly onlyLive: number;
  /** Up to `maxExamples` of those rows, in table order. */
  readonly examples: readonly { readonly side: 'rebuilt' | 'live'; readonly row: Row }[];
}

// Identifiers come from projection definitions and the schema, never from input; quoting
// still keeps an odd column name from changing the statement.
export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

function columnsOf(db: Sqlite, table: string): string[] {
  return db
    .prepare("SELECT name FROM pragma_table_info(?, 'main') ORDER BY cid")
    .pluck()
    .all(table) as string[];
}

const rank = (v: unknown) =>
  v === null || v === undefined
    ? 0
    : typeof v === 'number' || typeof v === 'bigint'
      ? 1
      : typeof v === 'string'
        ? 2
        : 3;

/** SQLite's order for values under BINARY collation: NULL, numbers, text (UTF-8 bytes), blobs. */
function compareValues(x: unknown, y: unknown): number {
  if (x === y) return 0;
  const byRank = rank(x) - rank(y);
  if (byRank !== 0) return byRank;
  if (typeof x === 'string' && typeof y === 'string') {
    return Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8'));
  }
  if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) return Buffer.compare(x, y);
  const [a, b] = [x as number | bigint, y as number | bigint];
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRows(columns: readonly string[], a: Row, b: Row): number {
  for (const c of columns) {
    const d = compareValues(a[c], b[c]);
    if (d !== 0) return d;
  }
  return 0;
}

function diffTable(rebuilt: Sqlite, live: Sqlite, table: string, maxExamples: number): TableDiff {
  const none = { onlyRebuilt: 0, onlyLive: 0, examples: [] };
  const columns = columnsOf(rebuilt, table);
  const liveColumns = columnsOf(live, table);
  if (columns.length === 0)
    return { table, shape: 'table is missing from the rebuilt database', ...none };
  if (liveColumns.length === 0)
    return { table, shape: 'table is missing from the live database', ...none };
  if (columns.join('\0') !== liveColumns.join('\0')) {
    return {
      table,
      shape: `columns differ: rebuilt (${columns.join(', ')}), live (${liveColumns.join(', ')})`,
      ...none,
    };
  }
  // Both sides are read in the same total order and merged, so memory stays flat
  // whatever the table's size.
  const list = columns.map(quoteIdent).join(', ');
  const order = columns.map((c) => `${quoteIdent(c)} COLLATE BINARY`).join(', ');
  const sql = `SELECT ${list} FROM ${quoteIdent(table)} ORDER BY ${order}`;
  const left = rebuilt.prepare(sql).iterate() as IterableIterator<Row>;
  const right = live.prepare(sql).iterate() as IterableIterator<Row>;
  let onlyRebuilt = 0;
  let onlyLive = 0;
  const examples: { side: 'rebuilt' | 'live'; row: Row }[] = [];
  const note = (side: 'rebuilt' | 'live', row: Row) => {
    if (side === 'rebuilt') onlyRebuilt += 1;
    else onlyLive += 1;
    if (examples.length < maxExamples) examples.push({ side, row });
  };
  try {
    let a = left.next();
    let b = right.next();
    while (!a.done || !b.done) {
      const d = a.done ? 1 : b.done ? -1 : compareRows(columns, a.value, b.value);
      if (d === 0) {
        a = left.next();
        b = right.next();
      } else if (d < 0) {
        note('rebuilt', a.value as Row);
        a = left.next();
      } else {
        note('live', b.value as Row);
        b = right.next();
      }
    }
  } finally {
    left.return?.();
    right.return?.();
  }
  return { table, onlyRebuilt, onlyLive, examples };
}

/**
 * Compares the named tables of two databases row by row (all columns) and returns the
 * tables that differ; an empty list means the live projections are exactly what the log
 * produces.
 */
export function compareProjections(
  rebuilt: Sqlite,
  live: Sqlite,
  tables: readonly string[],
  maxExamples = 20,
): TableDiff[] {
  return tables
    .map((t) => diffTable(rebuilt, live, t, maxExamples))
    .filter((d) => d.shape !== undefined || d.onlyRebuilt > 0 || d.onlyLive > 0);
}
