import {
  EventDecodeError,
  EventMetaSchema,
  redactedBy,
  type Catalogue,
  type EventMeta,
  type RecordedEvent,
  type Sqlite,
} from '../log/index.js';

/**
 * The log as the projector feeds it: the rows of log_events in seq order, decoded as
 * EventStore.decode does, for the events some projection handles only.
 *
 * A replay goes through every event once, so the `events` view cost more than the work it
 * fed: a join to the types and commits per row, a row object per event, and a JSON.parse and
 * a schema check of the meta per event where a commit of a hundred events shares one. Here
 * the rows come as arrays with only the stream joined in (a million registrations have a
 * million streams), type names and commit meta are looked up once per id, and an event no
 * projection handles is never parsed. The event data is still parsed with its type's schema
 * (Catalogue.decode): the chain proves the bytes are the appended ones, but the schema also
 * upcasts older versions and may transform, and it costs a few percent of a replay.
 */
export interface LogReader {
  /**
   * Up to `limit` rows after `afterSeq`: `lastSeq` is the last row's seq (afterSeq when
   * none), `rows` how many there were, `events` the decoded ones `wanted` accepts.
   */
  read(
    afterSeq: number,
    limit: number,
    wanted: (type: string) => boolean,
  ): { events: RecordedEvent[]; rows: number; lastSeq: number };
}

// The columns, by position (raw rows): fewer objects per event for the collector.
const SEQ = 0;
const STREAM = 1;
const VERSION = 2;
const TYPE = 3;
const SCHEMA_VERSION = 4;
const DATA = 5;
const COMMIT = 6;
type Row = [number, string | null, number, number, number, string, number];

interface Commit {
  readonly id: number;
  /** The parsed meta, or why it does not parse (every event of the commit fails alike). */
  readonly meta: EventMeta | Error;
  readonly at: string;
}

export function createLogReader(db: Sqlite, catalogue: Catalogue): LogReader {
  // LIMIT ? + 0: with a bare bound LIMIT, SQLite re-prepares the statement on every run.
  const rowsStmt = db
    .prepare(
      `SELECT e.seq, s.name, e.version, e.type, e.schema_version, e.data, e.commit_id
       FROM log_events e LEFT JOIN log_streams s ON s.id = e.stream
       WHERE e.seq > ? ORDER BY e.seq LIMIT ? + 0`,
    )
    .raw();
  const typeStmt = db.prepare('SELECT name FROM log_types WHERE id = ?').pluck();
  const commitStmt = db.prepare('SELECT meta, at FROM log_commits WHERE id = ?');
  // Few types; a type's name never changes once appended.
  const typeNames = new Map<number, string | undefined>();
  const typeName = (id: number) => {
    if (typeNames.has(id)) return typeNames.get(id);
    const name = typeStmt.get(id) as string | undefined;
    typeNames.set(id, name);
    return name;
  };
  // A commit's events are consecutive, so the last one read is the only one worth keeping.
  let commit: Commit = { id: -1, meta: new Error('no commit'), at: '' };
  const commitOf = (id: number): Commit => {
    if (id === commit.id) return commit;
    const row = commitStmt.get(id) as { meta: string | null; at: string | null } | undefined;
    let meta: EventMeta | Error;
    try {
      // As the view reads it: a missing commit has a null meta, which the schema refuses.
      meta = EventMetaSchema.parse(JSON.parse(row?.meta ?? 'null'));
    } catch (err) {
      meta = err as Error;
    }
    commit = { id, meta, at: row?.at as string };
    return commit;
  };

  const decode = (row: Row, type: string): RecordedEvent => {
    try {
      const { meta, at } = commitOf(row[COMMIT]);
      if (meta instanceof Error) throw meta;
      const seq = row[SEQ];
      const stream = row[STREAM] as string;
      const version = row[VERSION];
      const by = redactedBy(row[DATA]);
      // Erased data is no longer the type's shape: it reads as EventRedacted instead.
      if (by !== undefined) {
        return { type: 'EventRedacted', data: { by, type }, seq, stream, version, at, meta };
      }
      const data = catalogue.decode(type, row[SCHEMA_VERSION], JSON.parse(row[DATA]));
      return { type, data, seq, stream, version, at, meta } as RecordedEvent;
    } catch (err) {
      throw new EventDecodeError(row[SEQ], (err as Error).message);
    }
  };

  return {
    read(afterSeq, limit, wanted) {
      const rows = rowsStmt.all(afterSeq, limit) as Row[];
      const events: RecordedEvent[] = [];
      for (const row of rows) {
        const type = typeName(row[TYPE]);
        if (type !== undefined && wanted(type)) events.push(decode(row, type));
      }
      const lastSeq = rows.length > 0 ? rows[rows.length - 1]![SEQ] : afterSeq;
      return { events, rows: rows.length, lastSeq };
    },
  };
}
