import type { Sqlite } from './database.js';
import type { EventRow } from './event-store.js';

const BATCH = 5000;

export interface CopyResult {
  readonly copied: number;
  /** The seq of the last event copied, or `afterSeq` when there was nothing to copy. */
  readonly lastSeq: number;
}

/**
 * Copies the events after `afterSeq` from one database's log into another's, byte for byte
 * (hashes included), for scratch rebuilds and checks. The source rows are read by a single
 * statement, so they come from one snapshot even while a server appends to the source.
 * The target must already have the `events` table (migrateLog) and must not be the source.
 */
export function copyEvents(source: Sqlite, target: Sqlite, afterSeq = 0): CopyResult {
  const rows = source
    .prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq')
    .iterate(afterSeq) as IterableIterator<EventRow>;
  const insert = target.prepare(
    `INSERT INTO events (seq, stream, version, type, schema_version, data, data_hash, meta, at, hash)
     VALUES (@seq, @stream, @version, @type, @schema_version, @data, @data_hash, @meta, @at, @hash)`,
  );
  const insertBatch = target.transaction((batch: readonly EventRow[]) => {
    for (const row of batch) insert.run(row);
  });
  let copied = 0;
  let lastSeq = afterSeq;
  let batch: EventRow[] = [];
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
