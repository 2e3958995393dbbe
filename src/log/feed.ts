import { hash } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Sqlite } from './database.js';
import { DamagedEventError } from './errors.js';

/**
 * The sync feed: a vault's OperationPushed events after a sequence, read through the
 * (stream, seq) index of the log's table (schema.ts). The op is the last key of the stored
 * data, in wire form, so each op is cut out of the stored text and prefixed with its
 * server_sequence: no parse, no re-serialisation. Inside JSON strings every quote is escaped, so the first `,"op":{`
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

/**
 * Whether data still matches the digest its chain covers. Hashing every op of every page
 * would cost a quarter of a pull, so a reader checks each op the first time it serves it
 * and keeps, per stream, the seq up to which every op was checked (Verified below): damaged
 * data is not served, and ops read again by a vault's other devices cost nothing. Damage
 * that appears after an op's check is found by the next process to serve it, and by verify.
 */
const intact = (data: string, dataHashHex: string) => hash('sha256', data, 'hex') === dataHashHex;

/**
 * Per stream, the seq up to which every op was found intact by this reader. Only a page
 * that starts inside the checked run extends it, so the run never skips an unchecked op.
 * One number per vault read since start; bounded by the number of vaults.
 */
class Verified {
  readonly #upTo = new Map<string, number>();
  upTo(stream: string): number {
    return this.#upTo.get(stream) ?? 0;
  }
  extend(stream: string, from: number, to: number): void {
    if (from <= this.upTo(stream) && to > this.upTo(stream)) this.#upTo.set(stream, to);
  }
}

/** One page of the feed, ready to be written into the pull answer. */
export interface FeedPage {
  /** The wire ops joined by commas: the inside of the `ops` array. */
  readonly ops: string;
  readonly count: number;
  /** Sequence of the last op in the page; undefined when the page is empty. */
  readonly lastSeq: number | undefined;
  /** Whether ops exist after this page (one extra row is read to know). */
  readonly hasMore: boolean;
}

/**
 * A vault's stream holds its ops and the answers kept for retried pushes. The page reads
 * every row but the answers rather than only the ops, so that a row whose type a damaged
 * page changed is refused as damaged instead of silently left out of the vault; only a type
 * changed into exactly PushAnswered's id would still be skipped (verify names it). A row is
 * left out only when its type is known to be that id: a damaged row may read its type as
 * NULL or as any number, and a log that never kept an answer has no such id (NULL), so no
 * stand-in value and no `IS` comparison, which takes NULL for NULL, would do.
 */
const typeId = (name: string) => `(SELECT id FROM log_types WHERE name = '${name}')`;
const NOT_ANSWER = `coalesce(type <> ${typeId('PushAnswered')}, 1)`;
/** 1 for an op; 0 or NULL for anything else, a damaged row included. */
const IS_OP = `type = ${typeId('OperationPushed')}`;

export function createFeedReader(db: Sqlite) {
  // `LIMIT ? + 0`, not `LIMIT ?`: SQLite lets a bare LIMIT parameter steer the plan, so it
  // re-prepares the statement each time the parameter is bound (every run) — about a fifth
  // of the cost of reading a page of 100. An expression is only evaluated.
  const page = db.prepare(`
    SELECT seq, data, lower(hex(data_hash)), ${IS_OP} FROM log_events
    WHERE stream = (SELECT id FROM log_streams WHERE name = ?) AND seq > ?
      AND ${NOT_ANSWER}
    ORDER BY seq
    LIMIT ? + 0`);
  // Rows as [seq, data, digest] arrays: an object per row costs property stores and shape
  // transitions, about a sixth of a page.
  page.raw(true);
  // The same page without the ops a later op on their path makes pointless (a projection's
  // table, named here because the feed owns the page's SQL). A probe per row, so it is used
  // only for cursors before the vault's last superseded op; prepared on first use, since a
  // bare log has no projection tables.
  let filtered: Statement | undefined;
  const prepareFiltered = () =>
    db
      .prepare(
        `
    SELECT seq, data, lower(hex(data_hash)), ${IS_OP} FROM log_events e
    WHERE stream = (SELECT id FROM log_streams WHERE name = ?) AND seq > ?
      AND ${NOT_ANSWER}
      AND NOT EXISTS (SELECT 1 FROM superseded_ops s WHERE s.seq = e.seq)
    ORDER BY seq
    LIMIT ? + 0`,
      )
      .raw(true);
  // Single ops (first syncs, duplicate checks) are rare: checked each time.
  const read = (seq: number): string | undefined => {
    const row = one.get(seq) as { data: string; data_hash: string } | undefined;
    if (row && !intact(row.data, row.data_hash)) throw new DamagedEventError(seq);
    return row?.data;
  };
  const verified = new Verified();
  const one = db.prepare(
    `SELECT data, lower(hex(data_hash)) AS data_hash FROM log_events
     WHERE seq = ? AND type = (SELECT id FROM log_types WHERE name = 'OperationPushed')`,
  );
  return {
    /** The op an OperationPushed event stored, in wire form; undefined for any other seq. */
    op(seq: number): Record<string, unknown> | undefined {
      const data = read(seq);
      return data ? (JSON.parse(data) as { op: Record<string, unknown> }).op : undefined;
    },
    /** The op at `seq` in wire form (with its server_sequence), as a page holds it. */
    wire(seq: number): string | undefined {
      const data = read(seq);
      return data ? wireOp(seq, data) : undefined;
    },
    /**
     * Up to `size` ops after `afterSeq`, assembled into one string without per-op objects;
     * `skipSuperseded` leaves out the ops listed in superseded_ops.
     */
    joined(stream: string, afterSeq: number, size: number, skipSuperseded = false): FeedPage {
      const statement = skipSuperseded ? (filtered ??= prepareFiltered()) : page;
      const rows = statement.all(stream, afterSeq, size + 1) as [
        seq: number,
        data: string,
        dataHash: string,
        isOp: 0 | 1,
      ][];
      let count = Math.min(rows.length, size);
      const checkedUpTo = verified.upTo(stream);
      let ops = '';
      for (let i = 0; i < count; i++) {
        const row = rows[i]!;
        if (row[3] !== 1 || (row[0] > checkedUpTo && !intact(row[1], row[2]))) {
          if (i === 0) {
            throw row[3] === 1
              ? new DamagedEventError(row[0])
              : new DamagedEventError(row[0], 'a row of the vault has an unknown event type');
          }
          // The ops before it are served; the next page starts at the damaged one.
          count = i;
          break;
        }
        ops += i === 0 ? wireOp(row[0], row[1]) : `,${wireOp(row[0], row[1])}`;
      }
      const lastSeq = count > 0 ? rows[count - 1]![0] : undefined;
      // A filtered page skips superseded ops, which were not checked: only a plain page counts.
      if (lastSeq !== undefined && !skipSuperseded) verified.extend(stream, afterSeq, lastSeq);
      return { ops, count, lastSeq, hasMore: rows.length > count };
    },
  };
}
