import type { Sqlite } from '../../src/log/index.js';
import { PROJECTIONS } from '../../src/projections/index.js';

/**
 * Every row of a table, ordered by all of its columns, so two dumps are equal exactly
 * when the tables hold the same rows.
 */
export function dumpTable(db: Sqlite, table: string): unknown[] {
  const columns = (db.pragma(`table_info("${table}")`) as { name: string }[]).map((c) => c.name);
  if (columns.length === 0) throw new Error(`no table ${table}`);
  const order = columns.map((c) => `"${c}"`).join(', ');
  return db.prepare(`SELECT * FROM "${table}" ORDER BY ${order}`).all();
}

export const checkpoints = (db: Sqlite) =>
  db.prepare('SELECT name, version, position FROM projection_checkpoints ORDER BY name').all() as {
    name: string;
    version: number;
    position: number;
  }[];

/** The checkpoints every projection of the server should have after reaching `position`. */
export const allAt = (position: number) =>
  PROJECTIONS.map((p) => ({ name: p.name, version: p.version, position })).sort((a, b) =>
    a.name.localeCompare(b.name),
  );
