import type { Sqlite } from '../../src/log/index.js';

/**
 * A canonical text dump of tables: every row as a raw array, ordered by all columns, so
 * that two dumps are equal exactly when the tables hold the same values.
 */
export function dumpTables(db: Sqlite, tables: readonly string[]): Record<string, string> {
  const dump: Record<string, string> = {};
  for (const table of tables) {
    const columns = db
      .prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid')
      .pluck()
      .all(table) as string[];
    if (columns.length === 0) throw new Error(`no table ${table}`);
    const order = columns.map((c) => `"${c}"`).join(', ');
    const rows = db.prepare(`SELECT ${order} FROM "${table}" ORDER BY ${order}`).raw().all();
    dump[table] = JSON.stringify([columns, rows]);
  }
  return dump;
}
