import type { Sqlite } from './database.js';

/**
 * Erasure of a deleted user's content. The chain covers each event's data_hash, not its
 * data, so the data of an event can be replaced by a marker naming the UserDeleted event
 * that erased it while seq, stream, type, data_hash and hash stay as they were. verify
 * accepts a marker only where that UserDeleted event (itself chained and unredacted)
 * lists the seq, so nobody can quietly erase events a deletion did not cover.
 */

/** Inclusive seq ranges, as a UserDeleted event lists what it redacted. */
export type SeqRange = readonly [number, number];

/** The exact text that replaces redacted data; verify accepts no other spelling. */
export const redactionMarker = (by: number): string => JSON.stringify({ redacted: true, by });

const MARKER = /^\{"redacted":true,"by":([1-9][0-9]*)\}$/;

/** The seq of the UserDeleted event that redacted this data, or undefined for intact data. */
export function redactedBy(data: string): number | undefined {
  const match = MARKER.exec(data);
  return match ? Number(match[1]) : undefined;
}

export const coversSeq = (ranges: readonly SeqRange[], seq: number): boolean =>
  ranges.some(([from, to]) => from <= seq && seq <= to);

/** Sorted distinct seqs as the fewest inclusive ranges: a user's ops are mostly consecutive. */
export function toRanges(seqs: readonly number[]): SeqRange[] {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  for (const seq of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && last[1] + 1 === seq) last[1] = seq;
    else ranges.push([seq, seq]);
  }
  return ranges;
}

export interface ErasureSubject {
  readonly userId: string;
  readonly username: string;
  readonly email: string;
}

/**
 * Every not yet redacted event holding the user's content: their own stream, their vaults'
 * streams (ops and push answers), the streams of their devices (device names), any event
 * whose data names them (blob references, refused logins and resets), and refused logins
 * or resets typed with their username or address before it was theirs to claim. What stays
 * is ids and digests in other streams' chained columns (stream names, meta), which the
 * chain covers directly and so cannot change.
 */
export function findUserContent(db: Sqlite, subject: ErasureSubject): number[] {
  const { userId, username, email } = subject;
  return db
    .prepare(
      `SELECT seq FROM events e
       WHERE e.data NOT LIKE '{"redacted":true,%'
         AND (e.stream = 'user/' || :userId
           OR substr(e.stream, 1, length(:vaultPrefix)) = :vaultPrefix
           OR e.stream IN (SELECT d.stream FROM events d
                           WHERE d.type = 'DevicePaired'
                             AND json_extract(d.data, '$.userId') = :userId)
           OR CASE WHEN json_valid(e.data) THEN json_extract(e.data, '$.userId') END = :userId
           OR (e.type = 'LoginFailed'
               AND json_extract(e.data, '$.login') IN (:usernameKey, :email))
           OR (e.type = 'PasswordResetRefused' AND json_extract(e.data, '$.email') = :email))
       ORDER BY seq`,
    )
    .pluck()
    .all({
      userId,
      vaultPrefix: `vault/${userId}/`,
      usernameKey: username.trim().toLowerCase(),
      email: email.trim().toLowerCase(),
    }) as number[];
}

/**
 * Replaces the data of the events in `ranges` with the marker naming `by`. Only for the
 * UserDeleted event at `by`, inside the transaction that appended it.
 */
export function redactEvents(db: Sqlite, ranges: readonly SeqRange[], by: number): number {
  const update = db.prepare('UPDATE log_events SET data = ? WHERE seq BETWEEN ? AND ? AND seq < ?');
  const marker = redactionMarker(by);
  let changed = 0;
  for (const [from, to] of ranges) changed += update.run(marker, from, to, by).changes;
  return changed;
}

/**
 * Moves every page image out of the WAL into the database file (where secure_delete has
 * zeroed freed content) and truncates the WAL, so erased bytes do not linger there. A
 * reader holding an old snapshot makes the checkpoint stop short: returns false then.
 */
export function checkpointTruncate(db: Sqlite): boolean {
  const [row] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
  return row?.busy === 0;
}
