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
 * A vault's stream holds its ops and the answers kept for retried pushes, and its events'
 * versions run 1, 2, 3… without a gap (the event store gives each the next). A page reads
 * every row of the stream after the cursor, answers included, and checks that run: a row
 * that a damaged page of the table or of its (stream, seq) index hides, or whose type it
 * changed, is refused as damaged instead of being silently left out of the vault. The row
 * at or before the cursor (the anchor) gives the version the page must start from. Only a
 * type changed into exactly PushAnswered's id still passes for an answer (verify names it).
 */
const typeId = (name: string) => `(SELECT id FROM log_types WHERE name = '${name}')`;
const OP_TYPE = typeId('OperationPushed');
const ANSWER_TYPE = typeId('PushAnswered');
const STREAM = '(SELECT id FROM log_streams WHERE name = ?)';
const ANCHOR = `coalesce((SELECT max(seq) FROM log_events WHERE stream = ${STREAM} AND seq <= ?), 0)`;

/** What a row of a vault's stream is to a page; anything else is a damaged row. */
const OP = 1;
const SKIPPED = 2;

/**
 * The page's SQL: `kind` is OP, SKIPPED (an answer, or an op `skipped` names) or 0, and the
 * data of a row that is not served is not read (it may overflow into further pages).
 * Its parameters: the stream's name twice, the cursor, the number of rows. `LIMIT ? + 0`,
 * not `LIMIT ?`: SQLite lets a bare LIMIT parameter steer the plan, so it
 * re-prepares the statement each time the parameter is bound (every run) — about a fifth
 * of the cost of reading a page of 100. An expression is only evaluated.
 */
const pageSql = (skipped?: string) => {
  const served = skipped ? `type = ${OP_TYPE} AND NOT ${skipped}` : `type = ${OP_TYPE}`;
  return `
    SELECT seq, version,
      CASE WHEN ${served} THEN ${OP} WHEN type = ${OP_TYPE} OR type = ${ANSWER_TYPE} THEN ${SKIPPED} ELSE 0 END,
      CASE WHEN ${served} THEN data END, lower(hex(data_hash))
    FROM log_events e
    WHERE stream = ${STREAM} AND seq >= ${ANCHOR}
    ORDER BY seq
    LIMIT ? + 0`;
};

/** A version a row of the stream can have: a damaged row may read NULL, 0 or anything. */
const isVersion = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

type PageRow = [seq: number, version: unknown, kind: number, data: string, dataHash: string];

export function createFeedReader(db: Sqlite) {
  const page = db.prepare(pageSql());
  // Rows as arrays: an object per row costs property stores and shape transitions, about a
  // sixth of a page.
  page.raw(true);
  // The same page without the ops a later op on their path makes pointless (a projection's
  // table, named here because the feed owns the page's SQL). A probe per row, so it is used
  // only for cursors before the vault's last superseded op; prepared on first use, since a
  // bare log has no projection tables.
  let filtered: Statement | undefined;
  const prepareFiltered = () =>
    db.prepare(pageSql('EXISTS (SELECT 1 FROM superseded_ops s WHERE s.seq = e.seq)')).raw(true);
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
     * `skipSuperseded` leaves out the ops listed in superseded_ops. `head`, the seq of the
     * vault's newest op as its projection knows it, lets a page that reaches the end of the
     * stream tell a stream cut short by a damaged index from one that really ends there.
     */
    joined(
      stream: string,
      afterSeq: number,
      size: number,
      skipSuperseded = false,
      head = 0,
    ): FeedPage {
      const statement = skipSuperseded ? (filtered ??= prepareFiltered()) : page;
      const checkedUpTo = verified.upTo(stream);
      let ops = '';
      let count = 0;
      let lastSeq: number | undefined;
      let hasMore = false;
      // The version the next row must have: the anchor's plus one, 1 for a stream that
      // begins after the cursor, undefined where the anchor's own version is unreadable.
      let expected: number | undefined;
      let from = afterSeq;
      // Ops before a damaged or missing row are served and the next page starts there; a
      // page that would begin with it is refused.
      const stopAt = (error: DamagedEventError) => {
        if (count === 0) throw error;
        hasMore = true;
      };
      // Each run reads the row at `from` again (the anchor), then rows after it: enough for
      // the page and the one op that says more follow, unless answers or skipped ops sit
      // among them. Every row taken moves `from` on, so a run of a full batch moves it.
      for (let run = 0; ; run++) {
        const rows = statement.all(stream, stream, from, size + 2) as PageRow[];
        let i = 0;
        if (rows[0] && rows[0][0] <= from) {
          if (run === 0) expected = isVersion(rows[0][1]) ? rows[0][1] + 1 : undefined;
          i = 1;
        } else if (run === 0) {
          expected = 1;
        }
        for (; i < rows.length; i++) {
          const row = rows[i]!;
          const [seq, version, kind] = row;
          if (seq <= from || (expected !== undefined && version !== expected)) {
            stopAt(DamagedEventError.versionGap(seq, version, expected));
            return done();
          }
          expected = (version as number) + 1;
          from = seq;
          if (kind === SKIPPED) continue;
          if (kind !== OP || (seq > checkedUpTo && !intact(row[3], row[4]))) {
            stopAt(
              kind === OP
                ? new DamagedEventError(seq)
                : new DamagedEventError(seq, 'a row of the vault has an unknown event type'),
            );
            return done();
          }
          if (count === size) {
            hasMore = true;
            return done();
          }
          ops += count === 0 ? wireOp(seq, row[3]) : `,${wireOp(seq, row[3])}`;
          count += 1;
          lastSeq = seq;
        }
        if (rows.length < size + 2) break;
      }
      if (from < head) {
        stopAt(DamagedEventError.cutShort(head));
      }
      return done();
      function done(): FeedPage {
        // A filtered page skips superseded ops, which were not checked: only a plain page counts.
        if (lastSeq !== undefined && !skipSuperseded) verified.extend(stream, afterSeq, lastSeq);
        return { ops, count, lastSeq, hasMore };
      }
    },
  };
}
