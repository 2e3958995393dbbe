import type { Sqlite } from './database.js';

export interface FeedRow {
  readonly seq: number;
  /** The op as the wire shape of CONTRACT.md §4.7, already serialised. */
  readonly op: string;
}

/**
 * The sync feed: a vault's OperationPushed events after a sequence, read through the
 * (stream, seq) index. The op is the last key of the stored data, in wire form, so each
 * op is cut out of the stored text and prefixed with its server_sequence: no parse, no
 * re-serialisation. Inside JSON strings every quote is escaped, so the first `,"op":{`
 * outside them is the key itself. Written for OperationPushed v1; a new version of that
 * event must be handled here too.
 */
const OP_KEY = ',"op":{';

function wireOp(seq: number, data: string): string {
  const at = data.indexOf(OP_KEY);
  if (at < 0 || !data.endsWith('}}')) {
    const { op } = JSON.parse(data) as { op: Record<string, unknown> };
    return JSON.stringify({ server_sequence: seq, ...op });
  }
  return `{"server_sequence":${seq},${data.slice(at + OP_KEY.length, -1)}`;
}

export function createFeedReader(db: Sqlite) {
  const page = db.prepare(`
    SELECT seq, data FROM events
    WHERE stream = ? AND seq > ? AND type = 'OperationPushed'
    ORDER BY seq
    LIMIT ?`);
  const one = db.prepare(`SELECT data FROM events WHERE seq = ? AND type = 'OperationPushed'`);
  return {
    /** The op an OperationPushed event stored, in wire form; undefined for any other seq. */
    op(seq: number): Record<string, unknown> | undefined {
      const row = one.get(seq) as { data: string } | undefined;
      return row ? (JSON.parse(row.data) as { op: Record<string, unknown> }).op : undefined;
    },
    page(stream: string, afterSeq: number, limit: number): FeedRow[] {
      const rows = page.all(stream, afterSeq, limit) as { seq: number; data: string }[];
      return rows.map((r) => ({ seq: r.seq, op: wireOp(r.seq, r.data) }));
    },
  };
}
