import type { Sqlite } from './database.js';

export interface FeedRow {
  readonly seq: number;
  /** The op as the wire shape of CONTRACT.md §4.7, already serialised. */
  readonly op: string;
}

/**
 * The sync feed: a vault's OperationPushed events after a sequence, read through the
 * (stream, seq) index. SQLite builds each op's JSON itself, so a page goes to the client
 * without being parsed and re-serialised in JavaScript. Written for OperationPushed v1;
 * a new version of that event must be handled here too.
 */
export function createFeedReader(db: Sqlite) {
  const page = db.prepare(`
    SELECT seq, json_object(
      'op_id', data ->> '$.opId',
      'server_sequence', seq,
      'device_id', data ->> '$.deviceId',
      'entity_type', data ->> '$.entityType',
      'entity_id', data ->> '$.entityId',
      'op_type', data ->> '$.opType',
      'payload_json', data ->> '$.payloadJson',
      'created_at', data ->> '$.createdAt'
    ) AS op
    FROM events
    WHERE stream = ? AND seq > ? AND type = 'OperationPushed'
    ORDER BY seq
    LIMIT ?`);
  return {
    page: (stream: string, afterSeq: number, limit: number) =>
      page.all(stream, afterSeq, limit) as FeedRow[],
  };
}
