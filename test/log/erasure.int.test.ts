import { afterEach, describe, expect, it } from 'vitest';
import {
  findUserContent,
  redactedBy,
  redactEvents,
  redactionMarker,
  toRanges,
  verifyLog,
  type DomainEvent,
  type SeqRange,
  type Sqlite,
} from '../../src/log/index.js';
import { AT, blocked, META, openLog, registered } from '../helpers/log.js';

let opened: Sqlite[] = [];
afterEach(() => {
  for (const db of opened) db.close();
  opened = [];
});

const deleted = (userId: string, redacted: SeqRange[]): DomainEvent => ({
  type: 'UserDeleted',
  data: { userId, redacted: redacted.map(([a, b]) => [a, b]), blobs: [] },
});

/**
 * seq 1 u1 registered, 2 u2 registered, 3 u1 blocked, 4 u2 blocked, 5 a refused login
 * typed as u1's username; then, when `erase`, 6 UserDeleted(u1) redacting 1, 3 and 5.
 */
function logWithDeletion(erase = true) {
  const log = openLog();
  opened.push(log.db);
  const append = (stream: string, event: DomainEvent) =>
    log.store.append([{ stream, events: [event] }], META, AT)[0]!;
  append('user/u1', registered('u1', 'Alice'));
  append('user/u2', registered('u2', 'bob'));
  append('user/u1', blocked('u1'));
  append('user/u2', blocked('u2'));
  append('login/alice', {
    type: 'LoginFailed',
    data: { login: 'alice', reason: 'unknown_login' },
  });
  const seqs = findUserContent(log.db, {
    userId: 'u1',
    username: 'Alice',
    email: 'alice@example.org',
  });
  if (erase) {
    const ranges = toRanges(seqs);
    const event = append('user/u1', deleted('u1', ranges));
    redactEvents(log.db, ranges, event.seq);
  }
  return { ...log, seqs };
}

const dataOf = (db: Sqlite, seq: number) =>
  db.prepare('SELECT data FROM events WHERE seq = ?').pluck().get(seq) as string;
const setData = (db: Sqlite, seq: number, data: string) =>
  db.prepare('UPDATE events SET data = ? WHERE seq = ?').run(data, seq);

describe('redaction helpers', () => {
  it('compacts seqs into inclusive ranges', () => {
    expect(toRanges([7, 1, 2, 3, 5, 3])).toEqual([
      [1, 3],
      [5, 5],
      [7, 7],
    ]);
    expect(toRanges([])).toEqual([]);
  });

  it('recognises only the exact marker text', () => {
    expect(redactedBy(redactionMarker(12))).toBe(12);
    expect(redactedBy('{"redacted":true,"by":12,"x":1}')).toBeUndefined();
    expect(redactedBy('{"redacted": true, "by": 12}')).toBeUndefined();
    expect(redactedBy('{"userId":"u1"}')).toBeUndefined();
  });
});

describe('findUserContent', () => {
  it("finds the user's stream and logins typed as their name, not other users' events", () => {
    expect(logWithDeletion(false).seqs).toEqual([1, 3, 5]);
  });
});

describe('verify with redactions', () => {
  it('passes when every redacted event is listed by the UserDeleted event it names', () => {
    const { db } = logWithDeletion();
    expect(dataOf(db, 1)).toBe(redactionMarker(6));
    expect(dataOf(db, 5)).toBe(redactionMarker(6));
    expect(dataOf(db, 2)).toContain('bob');
    expect(verifyLog(db).problems).toEqual([]);
  });

  it('reads a redacted event back as EventRedacted, keeping its place in the log', () => {
    const { store } = logWithDeletion();
    const [first] = store.readRange(0, 1);
    expect(first).toMatchObject({
      type: 'EventRedacted',
      data: { by: 6, type: 'UserRegistered' },
      seq: 1,
      stream: 'user/u1',
      version: 1,
    });
  });

  it('rejects a redaction no UserDeleted event lists', () => {
    const { db } = logWithDeletion();
    setData(db, 2, redactionMarker(6));
    expect(verifyLog(db).problems).toEqual([
      { seq: 2, problem: 'redacted without UserDeleted 6 naming it' },
    ]);
  });

  it('rejects a marker naming an event that is not a UserDeleted, or an earlier one', () => {
    const { db } = logWithDeletion();
    setData(db, 2, redactionMarker(4));
    setData(db, 4, redactionMarker(1));
    expect(verifyLog(db).problems.map((p) => p.seq)).toEqual([2, 4]);
  });

  it('rejects a redaction of a log without any deletion', () => {
    const { db } = logWithDeletion(false);
    setData(db, 1, redactionMarker(5));
    expect(verifyLog(db).problems).toHaveLength(1);
  });

  it('does not let an edited UserDeleted list vouch for more events', () => {
    const { db } = logWithDeletion();
    setData(db, 6, JSON.stringify({ userId: 'u1', redacted: [[1, 5]], blobs: [] }));
    setData(db, 2, redactionMarker(6));
    const problems = verifyLog(db).problems;
    expect(problems).toContainEqual({ seq: 6, problem: 'data does not match its data_hash' });
    // Without a trusted list, the genuine redactions fail as well.
    expect(problems.map((p) => p.seq)).toEqual([1, 2, 3, 5, 6]);
  });

  it('still detects any other change of data', () => {
    const { db } = logWithDeletion();
    setData(db, 2, dataOf(db, 2).replace('bob', 'eve'));
    expect(verifyLog(db).problems).toEqual([
      { seq: 2, problem: 'data does not match its data_hash' },
    ]);
  });

  it('only redacts events before the UserDeleted event', () => {
    const { db } = logWithDeletion();
    expect(redactEvents(db, [[1, 10]], 6)).toBe(5);
    expect(dataOf(db, 6)).not.toBe(redactionMarker(6));
  });
});
