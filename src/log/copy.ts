import type { Sqlite } from './database.js';

const BATCH = 5000;

export interface CopyResult {
  readonly copied: number;
  /** The seq of the last event copied, or `afterSeq` when there was nothing to copy. */
  readonly lastSeq: number;
}

interface StoredRow {
  readonly seq: number;
  readonly stream: number;
  readonly version: number;
  readonly type: number;
  readonly schema_version: number;
  readonly commit_id: number;
  readonly data_hash: Buffer;
  readonly hash: Buffer;
  readonly data: string;
  readonly stream_name: string | null;
  readonly type_name: string | null;
  readonly meta: string | null;
  readonly at: string | null;
}

/**
 * Copies the events after `afterSeq` from one database's log into another's, byte for byte
 * (stream, type and commit ids and hashes included), for scratch rebuilds and checks. The source
 * rows are read by a single statement, so they come from one snapshot even while a server
 * appends to the source. The target must already have the log's tables (migrateLog) and
 * must not be the source.
 */
export function copyEvents(source: Sqlite, target: Sqlite, afterSeq = 0): CopyResult {
  const rows = source
    .prepare(
      `SELECT e.*, s.name AS stream_name, t.name AS type_name, c.meta, c.at FROM log_events e
       LEFT JOIN log_streams s ON s.id = e.stream LEFT JOIN log_types t ON t.id = e.type
       LEFT JOIN log_commits c ON c.id = e.commit_id
       WHERE e.seq > ? ORDER BY e.seq`,
    )
    .iterate(afterSeq) as IterableIterator<StoredRow>;
  // OR IGNORE: streams and commits are shared by many events; a row whose stream or commit
  // the source lacks (a damaged log) is copied without it, as the source holds it.
  const insertStream = target.prepare('INSERT OR IGNORE INTO log_streams (id, name) VALUES (?, ?)');
  const insertType = target.prepare('INSERT OR IGNORE INTO log_types (id, name) VALUES (?, ?)');
  const insertCommit = target.prepare(
    'INSERT OR IGNORE INTO log_commits (id, meta, at) VALUES (?, ?, ?)',
  );
  const insert = target.prepare(
    `INSERT INTO log_events (seq, stream, version, type, schema_version, commit_id, data_hash, hash, data)
     VALUES (@seq, @stream, @version, @type, @schema_version, @commit_id, @data_hash, @hash, @data)`,
  );
  const insertBatch = target.transaction((batch: readonly StoredRow[]) => {
    for (const row of batch) {
      insertStream.run(row.stream, row.stream_name);
      insertType.run(row.type, row.type_name);
      insertCommit.run(row.commit_id, row.meta, row.at);
      insert.run(row);
    }
  });
  let copied = 0;
  let lastSeq = afterSeq;
  let batch: StoredRow[] = [];
  const flush = () => {
    insertBatch(batch);
    copied += batch.length;
    batch = [];
  };
  for (const row of rows) {
    batch.push(row);
    lastSeq = row.seq;
    if (batch.length >= BATCH) flush();
  }
  if (batch.length > 0) flush();
  return { copied, lastSeq };
}
