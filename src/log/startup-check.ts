import { existsSync } from 'node:fs';
import { anchorFileOf } from './anchor.js';
import { checkAnchor, type AnchorFinding } from './anchor-check.js';
import { anchorKeySourceOf, anchorKeyState } from './anchor-key.js';
import { DatabaseOpenError, openDatabase, type Sqlite } from './database.js';
import { coversSeq, redactedBy, type SeqRange } from './erasure.js';
import type { EventRow } from './event-store.js';
import { GENESIS_HASH, sha256Hex, storedRowHash } from './hash.js';
import {
  inSeqGap,
  LOG_FORMAT_VERSION,
  LogFormatError,
  readSchemaVersion,
  readSeqGaps,
} from './schema.js';

/** How many of the newest events start-up rechecks; `verify` walks the whole log. */
export const CHAIN_TAIL = 1_000;

/** The database must not serve: `message` names the file, the cause and what to do. */
export class StartupCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupCheckError';
  }
}

export interface StartupCheckReport {
  /** False for a data directory without a database yet (a first start). */
  readonly existed: boolean;
  /** The newest seq, 0 for an empty log. */
  readonly head: number;
  /** Events whose digest and chain link were recomputed. */
  readonly checked: number;
}

// `events` is a table in format 1 and a view over the log's tables since (schema.ts).
const hasTable = (db: Sqlite, name: string) =>
  db
    .prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?")
    .get(name) !== undefined;

/** Why the UserDeleted event at `by` does not vouch for erasing `seq`, or undefined if it does. */
function erasureProblem(db: Sqlite, seq: number, by: number): string | undefined {
  const vouching = `redacted without UserDeleted ${by} naming it`;
  if (by <= seq) return vouching;
  const row = db.prepare('SELECT type, data, data_hash FROM events WHERE seq = ?').get(by) as
    Pick<EventRow, 'type' | 'data' | 'data_hash'> | undefined;
  if (!row || row.type !== 'UserDeleted' || sha256Hex(row.data) !== row.data_hash) return vouching;
  try {
    const redacted = (JSON.parse(row.data) as { redacted?: unknown }).redacted;
    const ranges = Array.isArray(redacted) ? (redacted as SeqRange[]) : [];
    return coversSeq(ranges, seq) ? undefined : vouching;
  } catch {
    return vouching;
  }
}

export interface TailResult {
  /** The newest seq, 0 for an empty log. */
  readonly head: number;
  /** Events whose digest and chain link were recomputed. */
  readonly checked: number;
  /** The first problem found, as `seq N: what`. */
  readonly problem?: string;
}

/**
 * Recomputes the newest `tail` events as `verify` does: seq without gaps, data against
 * data_hash (or an erasure the naming UserDeleted lists), and each hash from the stored hash
 * before it. A torn or edited tail, or one re-chained from a different predecessor, is found
 * here; only `verify` sees damage further back. Rows are streamed: each may hold megabytes.
 */
export function checkChainTail(db: Sqlite, tail = CHAIN_TAIL): TailResult {
  if (!hasTable(db, 'events')) return { head: 0, checked: 0 };
  const head = db.prepare('SELECT coalesce(max(seq), 0) FROM events').pluck().get() as number;
  const from = Math.max(head - tail, 0) + 1;
  // A restore's recorded jump (schema.ts SeqGap) is the one gap allowed, exactly as recorded.
  const gaps = hasTable(db, 'log_info') ? readSeqGaps(db) : [];
  const resumesAt = new Map(gaps.map((g) => [g.after + 1, g.resumeAfter + 1]));
  const before = db
    .prepare('SELECT seq, hash FROM events WHERE seq < ? ORDER BY seq DESC LIMIT 1')
    .get(from) as Pick<EventRow, 'seq' | 'hash'> | undefined;
  let previousHash = before?.hash ?? GENESIS_HASH;
  let expectedSeq = (before?.seq ?? 0) + 1;
  let checked = 0;
  // Erasures are judged after the scan: the connection reads nothing else while it iterates.
  const erased: { seq: number; by: number }[] = [];
  let problem: string | undefined;
  const rows = db.prepare('SELECT * FROM events WHERE seq >= ? ORDER BY seq').iterate(from);
  for (const row of rows as IterableIterator<EventRow>) {
    if (inSeqGap(gaps, row.seq)) {
      problem = `seq ${row.seq}: inside the gap a restore recorded`;
      break;
    }
    if (row.seq !== expectedSeq && row.seq !== resumesAt.get(expectedSeq)) {
      problem = `seq ${expectedSeq}: missing (sequence gap)`;
      break;
    }
    const by = redactedBy(row.data);
    if (by !== undefined) erased.push({ seq: row.seq, by });
    else if (sha256Hex(row.data) !== row.data_hash) {
      problem = `seq ${row.seq}: data does not match its data_hash`;
      break;
    }
    const expected = storedRowHash(previousHash, row);
    if (expected !== row.hash) {
      problem = `seq ${row.seq}: hash chain broken`;
      break;
    }
    previousHash = row.hash;
    expectedSeq = row.seq + 1;
    checked += 1;
  }
  for (const { seq, by } of erased) {
    const text = erasureProblem(db, seq, by);
    if (text) return { head, checked, problem: `seq ${seq}: ${text}` };
  }
  return { head, checked, ...(problem ? { problem } : {}) };
}

const VERIFY_THEN_RESTORE = (dataDir: string) =>
  `run "verstak-sync-server verify --data ${dataDir}" to list every damaged event, then restore the data directory from a backup`;

/**
 * Checks the server database before anything writes to it (migrations, projection catch-up,
 * the epoch row): SQLite's quick_check, then the chain of the newest events. Opened
 * read-only, so a refused start leaves the file exactly as found for `verify` or a copy.
 * Throws StartupCheckError when the server must not start.
 */
export function checkDatabaseAtStartup(
  file: string,
  dataDir: string,
  tail = CHAIN_TAIL,
  env: NodeJS.ProcessEnv = process.env,
  onNote: (note: AnchorFinding) => void = (n) => process.stderr.write(`note: ${n.message}\n`),
): StartupCheckReport {
  if (!existsSync(file)) return { existed: false, head: 0, checked: 0 };
  let db: Sqlite;
  try {
    db = openDatabase(file, { mustExist: true, readonly: true });
  } catch (err) {
    if (!(err instanceof DatabaseOpenError)) throw err;
    const { code, cause } = err;
    throw new StartupCheckError(
      code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
        ? `${file}: database corrupt (${(cause as Error).message}) — the server will not start on it: restore the data directory from a backup`
        : err.message,
    );
  }
  try {
    let quick: string;
    try {
      quick = db.pragma('quick_check', { simple: true }) as string;
    } catch (err) {
      quick = (err as Error).message;
    }
    const format = readSchemaVersion(db);
    if (format > LOG_FORMAT_VERSION) {
      throw new StartupCheckError(new LogFormatError(format, file).message);
    }
    if (quick !== 'ok') {
      throw new StartupCheckError(
        `${file}: database corrupt (SQLite quick_check: ${quick.split('\n')[0]}) — the server will not start on it: restore from backup, or ${VERIFY_THEN_RESTORE(dataDir)}`,
      );
    }
    let result: TailResult;
    try {
      result = checkChainTail(db, tail);
    } catch (err) {
      throw new StartupCheckError(
        `${file}: the log cannot be read (${(err as Error).message}) — the server will not start on it: ${VERIFY_THEN_RESTORE(dataDir)}`,
      );
    }
    const { head, checked, problem } = result;
    if (problem) {
      throw new StartupCheckError(
        `${file}: the log's newest events do not verify (${problem}) — the server will not start on a damaged log: ${VERIFY_THEN_RESTORE(dataDir)}`,
      );
    }
    // The anchor, after the tail: a tail that does not chain is named as such first.
    const anchorFile = anchorFileOf(dataDir);
    const { findings } = checkAnchor(
      db,
      anchorFile,
      anchorKeyState(anchorKeySourceOf(dataDir, env)),
    );
    const failed = findings.find((f) => f.level === 'failure');
    if (failed) {
      throw new StartupCheckError(
        failed.code === 'no_key' || failed.code === 'other_key'
          ? `${file}: the log's anchor cannot be checked — the server will not start: ${failed.message}`
          : `${file}: the log fails its anchor ${anchorFile} (${failed.message}) — the server will not start on it: ${VERIFY_THEN_RESTORE(dataDir)}`,
      );
    }
    // What it noted without refusing: a crash's unanchored tail, a log not anchored yet.
    findings.filter((f) => f.level === 'note').forEach(onNote);
    return { existed: true, head, checked };
  } finally {
    db.close();
  }
}
