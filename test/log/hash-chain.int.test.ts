import { fc, test } from '@fast-check/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256Hex, verifyLog, type EventRow, type Sqlite } from '../../src/log/index.js';
import { allRows, AT, blocked, META, openLog, registered } from '../helpers/log.js';

let opened: Sqlite[] = [];
afterEach(() => {
  for (const db of opened) db.close();
  opened = [];
});

/** A fresh log of `count` events spread over a few user streams. */
function logOf(count: number) {
  const log = openLog();
  opened.push(log.db);
  for (let i = 0; i < count; i++) {
    const user = `u${i % 3}`;
    const event = i < 3 ? registered(user) : blocked(user);
    log.store.append(
      [{ stream: `user/${user}`, events: [event] }],
      { ...META, requestId: `r${i}` },
      new Date(AT.getTime() + i),
    );
  }
  return log;
}

const COLUMNS = [
  'stream',
  'version',
  'type',
  'schema_version',
  'data',
  'data_hash',
  'meta',
  'at',
  'hash',
  'seq',
] as const;
type Column = (typeof COLUMNS)[number];

interface Change {
  readonly salt: string;
  readonly delta: number;
  readonly low: boolean;
}

const flipHex = (hex: string, at: number) =>
  hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);

/** A value for `column` that differs from the row's and keeps the table's constraints. */
function tampered(row: EventRow, column: Column, change: Change, head: number): string | number {
  const { salt, delta, low } = change;
  switch (column) {
    case 'stream':
      return `${row.stream}#${salt}`;
    case 'version':
      return row.version + 1000 + delta;
    case 'type':
      return row.type + salt;
    case 'schema_version':
      return row.schema_version + delta;
    case 'data':
      return low
        ? row.data + ' '.repeat(delta)
        : JSON.stringify({ ...JSON.parse(row.data), tampered: salt });
    case 'data_hash':
      return flipHex(row.data_hash, delta);
    case 'meta':
      return JSON.stringify({ ...JSON.parse(row.meta), actor: `${salt}!` });
    case 'at':
      return new Date(Date.parse(row.at) + delta * 1000).toISOString();
    case 'hash':
      return flipHex(row.hash, delta);
    case 'seq':
      // Below the first seq or past the head: both must show up, not only a gap in the middle.
      return low ? 1 - delta : head + delta;
  }
}

const setColumn = (db: Sqlite, seq: number, column: Column, value: string | number) =>
  // column comes from the fixed COLUMNS list above, never from input.
  db.prepare(`UPDATE events SET "${column}" = ? WHERE seq = ?`).run(value, seq);

describe('hash chain', () => {
  it('verifies a freshly written log with no problems', () => {
    const { db } = logOf(12);
    const progress: [number, number][] = [];
    const result = verifyLog(db, (done, total) => progress.push([done, total]));
    expect(result).toEqual({ format: 2, events: 12, problems: [], integrity: [] });
    expect(progress.at(-1)).toEqual([12, 12]);
  });

  it('verifies an empty log', () => {
    const { db } = logOf(0);
    expect(verifyLog(db)).toEqual({ format: 2, events: 0, problems: [], integrity: [] });
  });

  it('reports changed data alone as a data digest mismatch, the chain intact', () => {
    const { db } = logOf(5);
    setColumn(db, 3, 'data', JSON.stringify({ userId: 'someone else' }));
    expect(verifyLog(db).problems).toEqual([
      { seq: 3, problem: 'data does not match its data_hash' },
    ]);
  });

  it('reports data and data_hash changed together as a broken chain', () => {
    const { db } = logOf(5);
    const data = JSON.stringify({ userId: 'someone else' });
    setColumn(db, 3, 'data', data);
    setColumn(db, 3, 'data_hash', sha256Hex(data));
    expect(verifyLog(db).problems).toEqual([{ seq: 3, problem: 'hash chain broken' }]);
  });

  // Regression (property counterexample [1, 0, "seq", {low: true, delta: 1}]): a scan
  // starting at seq 1 never saw an event moved to seq 0, and the log verified clean.
  it('reports an event moved below seq 1', () => {
    const { db } = logOf(3);
    setColumn(db, 3, 'seq', 0);
    const { events, problems } = verifyLog(db);
    expect(events).toBe(3);
    expect(problems).toContainEqual({ seq: 0, problem: 'sequence number below 1' });
  });

  test.prop([
    fc.integer({ min: 1, max: 8 }),
    fc.nat(),
    fc.constantFrom(...COLUMNS),
    fc.record({
      salt: fc.string({ minLength: 1, maxLength: 6 }),
      delta: fc.integer({ min: 1, max: 5 }),
      low: fc.boolean(),
    }),
  ])(
    'any change to any column of any event is reported at that event',
    (count, pick, column, change) => {
      const { db } = logOf(count);
      const rows = allRows(db);
      const row = rows[pick % rows.length]!;
      const value = tampered(row, column, change, count);
      expect(value).not.toBe(row[column]);
      setColumn(db, row.seq, column, value);

      const { problems } = verifyLog(db);
      const named = new Set(problems.map((p) => p.seq));
      if (column === 'seq') {
        // The event is no longer at its place: either the hole it left or its new seq is named.
        expect(named.has(row.seq) || named.has(value as number), JSON.stringify(problems)).toBe(
          true,
        );
      } else if (column === 'data') {
        expect(problems).toEqual([{ seq: row.seq, problem: 'data does not match its data_hash' }]);
      } else {
        expect(named.has(row.seq), JSON.stringify(problems)).toBe(true);
      }
    },
  );
});
