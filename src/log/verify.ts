import type { Sqlite } from './database.js';
import type { EventRow } from './event-store.js';
import { coversSeq, redactedBy, type SeqRange } from './erasure.js';
import { GENESIS_HASH, sha256Hex, storedRowHash } from './hash.js';
import { LOG_FORMAT_VERSION, LogFormatError, readSchemaVersion, readSeqGaps } from './schema.js';

export interface LogProblem {
  readonly seq: number;
  readonly problem: string;
}

export interface VerifyResult {
  /** The storage format the log was found in (schema.ts LOG_FORMAT_VERSION). */
  readonly format: number;
  readonly events: number;
  readonly problems: readonly LogProblem[];
  readonly integrity: readonly string[];
}

const BATCH = 5000;

const isSeqRange = (r: unknown): r is SeqRange =>
  Array.isArray(r) && r.length === 2 && r.every((n) => Number.isInteger(n));

/**
 * The seq ranges each UserDeleted event erased, by its seq. Only events whose data still
 * matches their chained data_hash count: an edited list is reported as a digest mismatch
 * and vouches for nothing.
 */
function erasures(db: Sqlite): Map<number, readonly SeqRange[]> {
  const rows = db
    .prepare("SELECT seq, data, data_hash FROM events WHERE type = 'UserDeleted'")
    .all() as Pick<EventRow, 'seq' | 'data' | 'data_hash'>[];
  const bySeq = new Map<number, readonly SeqRange[]>();
  for (const row of rows) {
    if (sha256Hex(row.data) !== row.data_hash) continue;
    let redacted: unknown;
    try {
      redacted = (JSON.parse(row.data) as { redacted?: unknown }).redacted;
    } catch {
      continue;
    }
    if (!Array.isArray(redacted)) continue;
    bySeq.set(row.seq, redacted.filter(isSeqRange));
  }
  return bySeq;
}

/**
 * Checks that seq runs 1..N without gaps (but for the jumps restores recorded), every
 * data digest matches its data, the hash chain is unbroken, and SQLite's own integrity check passes. Data replaced by a
 * redaction marker is accepted instead of its digest only when the later UserDeleted
 * event the marker names lists that seq (and that event is intact and in the chain). Stops collecting after
 * `maxProblems` so a badly damaged log does not flood the operator.
 */
export function verifyLog(
  db: Sqlite,
  onProgress: (done: number, total: number) => void = () => {},
  maxProblems = 20,
): VerifyResult {
  // Format 1 reads through the same columns; a newer one may not mean what this code checks.
  const format = readSchemaVersion(db);
  if (format > LOG_FORMAT_VERSION) throw new LogFormatError(format, db.name);
  const problems: LogProblem[] = [];
  const total = (db.prepare('SELECT count(*) FROM events').pluck().get() as number) ?? 0;
  const page = db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ? + 0');
  // Rows below seq 1 would be skipped by a scan starting at 1, hiding a moved event.
  const lowest = db.prepare('SELECT min(seq) FROM events').pluck().get() as number | null;
  let after = Math.min((lowest ?? 1) - 1, 0);
  let previousHash = GENESIS_HASH;
  let expectedSeq = 1;
  let done = 0;
  const erased = erasures(db);
  // A restore's jump (schema.ts SeqGap) is the only gap allowed, and only exactly as recorded.
  const gaps = readSeqGaps(db);
  const resumesAt = new Map(gaps.map((g) => [g.after + 1, g.resumeAfter + 1]));
  for (;;) {
    const rows = page.all(after, BATCH) as EventRow[];
    if (rows.length === 0) break;
    for (const row of rows) {
      after = row.seq;
      if (row.seq < 1) {
        problems.push({ seq: row.seq, problem: 'sequence number below 1' });
      } else if (row.seq !== expectedSeq && row.seq !== resumesAt.get(expectedSeq)) {
        problems.push({ seq: expectedSeq, problem: `sequence gap: next stored seq is ${row.seq}` });
      }
      const inGap = gaps.find((g) => row.seq > g.after && row.seq <= g.resumeAfter);
      if (inGap) {
        problems.push({
          seq: row.seq,
          problem: `inside the gap a restore recorded (${inGap.after}, ${inGap.resumeAfter}]`,
        });
      }
      const by = redactedBy(row.data);
      if (by !== undefined) {
        if (!(by > row.seq && coversSeq(erased.get(by) ?? [], row.seq))) {
          problems.push({ seq: row.seq, problem: `redacted without UserDeleted ${by} naming it` });
        }
      } else if (sha256Hex(row.data) !== row.data_hash) {
        problems.push({ seq: row.seq, problem: 'data does not match its data_hash' });
      }
      const expectedHash = storedRowHash(previousHash, row);
      if (expectedHash !== row.hash) {
        problems.push({ seq: row.seq, problem: 'hash chain broken' });
      }
      previousHash = row.hash;
      expectedSeq = Math.max(row.seq + 1, 1);
      done += 1;
      if (problems.length >= maxProblems) break;
    }
    onProgress(done, total);
    if (problems.length >= maxProblems) break;
  }
  const integrity = (db.pragma('integrity_check') as { integrity_check: string }[])
    .map((r) => r.integrity_check)
    .filter((r) => r !== 'ok');
  return { format, events: done, problems, integrity };
}
