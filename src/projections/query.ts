import {
  DummyDriver,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type Compilable,
} from 'kysely';
import type { Statement } from 'better-sqlite3';
import type { Sqlite } from '../log/index.js';
import type { Database } from './tables.js';

/**
 * kysely builds and types the SQL; better-sqlite3 runs it synchronously, so reads and
 * writes can share the append transaction without awaiting a connection mutex.
 */
export const qb = new Kysely<Database>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

const cache = new WeakMap<Sqlite, Map<string, Statement>>();

/** A statement prepared once per database: for hot paths written as plain SQL. */
export function prepared(db: Sqlite, sql: string): Statement {
  let statements = cache.get(db);
  if (!statements) {
    statements = new Map();
    cache.set(db, statements);
  }
  let stmt = statements.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    statements.set(sql, stmt);
  }
  return stmt;
}

type Row<Q> = Q extends Compilable<infer R> ? R : never;

export function all<Q extends Compilable<unknown>>(db: Sqlite, query: Q): Row<Q>[] {
  const { sql, parameters } = query.compile();
  return prepared(db, sql).all(...parameters) as Row<Q>[];
}

export function first<Q extends Compilable<unknown>>(db: Sqlite, query: Q): Row<Q> | undefined {
  const { sql, parameters } = query.compile();
  return prepared(db, sql).get(...parameters) as Row<Q> | undefined;
}

export function run(db: Sqlite, query: Compilable<unknown>): number {
  const { sql, parameters } = query.compile();
  return prepared(db, sql).run(...parameters).changes;
}
