import { z } from 'zod';
import type { Catalogue } from './catalogue.js';
import { inWriteTransaction, type Sqlite } from './database.js';
import { redactedBy } from './erasure.js';
import { ConcurrencyError, EventDecodeError } from './errors.js';
import type { DomainEvent } from './events/index.js';
import { chainHash, GENESIS_HASH, sha256Hex } from './hash.js';
import { seqGapReader } from './schema.js';

export const EventMetaSchema = z.object({
  actor: z.string(),
  ip: z.string().optional(),
  requestId: z.string().optional(),
});
export type EventMeta = z.infer<typeof EventMetaSchema>;

/** An event as stored: its domain shape plus its place in the log. */
export type RecordedEvent<E extends DomainEvent = DomainEvent> = E & {
  readonly seq: number;
  readonly stream: string;
  readonly version: number;
  readonly at: string;
  readonly meta: EventMeta;
};

export interface AppendRequest {
  readonly stream: string;
  /** The stream's current version as the caller saw it (0: the stream must not exist yet). */
  readonly expectedVersion?: number;
  readonly events: readonly DomainEvent[];
}

/** One row of the `events` table, untouched. */
export interface EventRow {
  readonly seq: number;
  readonly stream: string;
  readonly version: number;
  readonly type: string;
  readonly schema_version: number;
  readonly data: string;
  readonly data_hash: string;
  readonly meta: string;
  readonly at: string;
  readonly hash: string;
}

export interface EventStore {
  /**
   * Appends the events of one or more streams atomically, at the end of the log, and
   * returns them as recorded. Runs inside the caller's transaction when there is one,
   * otherwise in its own BEGIN IMMEDIATE transaction. Throws ConcurrencyError (nothing
   * written) when a stream is not at its expected version.
   */
  append(requests: readonly AppendRequest[], meta: EventMeta, at: Date): RecordedEvent[];
  /** The sequence number of the last event, 0 for an empty log. */
  head(): number;
  streamVersion(stream: string): number;
  /** Events with seq > afterSeq, in seq order, decoded and upcast. */
  readRange(afterSeq: number, limit: number): RecordedEvent[];
  readStream(stream: string, afterVersion?: number): RecordedEvent[];
  /** Raw rows with seq > afterSeq, for verification and operator tools. */
  readRows(afterSeq: number, limit: number): EventRow[];
  decode(row: EventRow): RecordedEvent;
  /** What `decode` reads data with: a replay's reader (projections/log-reader.ts) decodes alike. */
  readonly catalogue: Catalogue;
}

export function createEventStore(db: Sqlite, catalogue: Catalogue): EventStore {
  // Appends and the head read the tables of the storage format (schema.ts) directly; reads
  // of whole rows go through the `events` view, which shows them as the chain defines them.
  const headStmt = db.prepare('SELECT seq, hash FROM log_events ORDER BY seq DESC LIMIT 1');
  const streamIdStmt = db.prepare('SELECT id FROM log_streams WHERE name = ?').pluck();
  const insertStreamStmt = db.prepare('INSERT INTO log_streams (name) VALUES (?)');
  const typeIdStmt = db.prepare('SELECT id FROM log_types WHERE name = ?').pluck();
  const insertTypeStmt = db.prepare('INSERT INTO log_types (name) VALUES (?)');
  const insertCommitStmt = db.prepare('INSERT INTO log_commits (meta, at) VALUES (?, ?)');
  // A stream's versions grow with seq, so its last event holds its version.
  const versionStmt = db
    .prepare('SELECT version FROM log_events WHERE stream = ? ORDER BY seq DESC LIMIT 1')
    .pluck();
  const insertStmt = db.prepare(
    `INSERT INTO log_events (seq, stream, version, type, schema_version, commit_id, data_hash, hash, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // LIMIT ? + 0: with a bare bound LIMIT, SQLite re-prepares the statement on every run.
  const rangeStmt = db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ? + 0');
  const streamStmt = db.prepare(
    'SELECT * FROM events WHERE stream = ? AND version > ? ORDER BY version',
  );

  const decode = (row: EventRow): RecordedEvent => {
    try {
      const meta = EventMetaSchema.parse(JSON.parse(row.meta));
      const place = { seq: row.seq, stream: row.stream, version: row.version, at: row.at, meta };
      // Erased data is no longer the type's shape: it reads as EventRedacted instead.
      const by = redactedBy(row.data);
      if (by !== undefined)
        return { type: 'EventRedacted', data: { by, type: row.type }, ...place };
      const data = catalogue.decode(row.type, row.schema_version, JSON.parse(row.data));
      return { type: row.type, data, ...place } as RecordedEvent;
    } catch (err) {
      throw new EventDecodeError(row.seq, (err as Error).message);
    }
  };

  const streamId = (stream: string) => streamIdStmt.get(stream) as number | undefined;
  const versionOf = (id: number | undefined): number =>
    id === undefined ? 0 : ((versionStmt.get(id) as number | undefined) ?? 0);
  const streamVersion = (stream: string): number => versionOf(streamId(stream));

  // After a restore the log resumes past a recorded gap (schema.ts SeqGap), so no new
  // event reuses a seq that devices may have seen from the lost server.
  const seqGaps = seqGapReader(db);
  const nextAfter = (head: number): number =>
    seqGaps().find((g) => g.after === head)?.resumeAfter ?? head;

  const appendNow = (requests: readonly AppendRequest[], meta: EventMeta, at: Date) => {
    const headRow = headStmt.get() as { seq: number; hash: Buffer } | undefined;
    let seq = nextAfter(headRow?.seq ?? 0);
    let previousHash = headRow ? headRow.hash.toString('hex') : GENESIS_HASH;
    // Projections applied live must see the meta a replay reads back: unknown keys
    // dropped by the schema, undefined ones dropped by JSON.
    const metaText = JSON.stringify(EventMetaSchema.parse(meta));
    const storedMeta = JSON.parse(metaText) as EventMeta;
    const atText = at.toISOString();
    // One commit row for all the events of this append; none for an append of nothing.
    let commitId: number | undefined;
    // Per append only: an id inserted here is gone again if the transaction rolls back.
    const typeIds = new Map<string, number>();
    const typeId = (type: string): number => {
      let id = typeIds.get(type) ?? (typeIdStmt.get(type) as number | undefined);
      id ??= Number(insertTypeStmt.run(type).lastInsertRowid);
      typeIds.set(type, id);
      return id;
    };
    const recorded: RecordedEvent[] = [];
    for (const request of requests) {
      let id = streamId(request.stream);
      let version = versionOf(id);
      if (request.expectedVersion !== undefined && request.expectedVersion !== version) {
        throw new ConcurrencyError(request.stream, request.expectedVersion, version);
      }
      if (request.events.length > 0 && id === undefined) {
        id = Number(insertStreamStmt.run(request.stream).lastInsertRowid);
      }
      for (const event of request.events) {
        const encoded = catalogue.encode(event.type, event.data);
        const dataText = JSON.stringify(encoded.data);
        const dataHash = sha256Hex(dataText);
        seq += 1;
        version += 1;
        const fields = {
          seq,
          stream: request.stream,
          version,
          type: event.type,
          schemaVersion: encoded.schemaVersion,
          dataHash,
          meta: metaText,
          at: atText,
        };
        const hash = chainHash(previousHash, fields);
        commitId ??= Number(insertCommitStmt.run(metaText, atText).lastInsertRowid);
        insertStmt.run(
          seq,
          id,
          version,
          typeId(event.type),
          encoded.schemaVersion,
          commitId,
          Buffer.from(dataHash, 'hex'),
          Buffer.from(hash, 'hex'),
          dataText,
        );
        previousHash = hash;
        recorded.push({
          type: event.type,
          data: encoded.data,
          seq,
          stream: request.stream,
          version,
          at: atText,
          meta: storedMeta,
        } as RecordedEvent);
      }
    }
    return recorded;
  };

  return {
    append: (requests, meta, at) => inWriteTransaction(db, () => appendNow(requests, meta, at)),
    head: () => (headStmt.get() as { seq: number } | undefined)?.seq ?? 0,
    streamVersion,
    readRange: (afterSeq, limit) => (rangeStmt.all(afterSeq, limit) as EventRow[]).map(decode),
    readStream: (stream, afterVersion = 0) =>
      (streamStmt.all(stream, afterVersion) as EventRow[]).map(decode),
    readRows: (afterSeq, limit) => rangeStmt.all(afterSeq, limit) as EventRow[],
    decode,
    catalogue,
  };
}
