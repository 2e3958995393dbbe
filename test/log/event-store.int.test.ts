import { fc, test } from '@fast-check/vitest';
import { afterEach, describe, expect, it } from 'vitest';
import { ConcurrencyError, type AppendRequest, type Sqlite } from '../../src/log/index.js';
import {
  allRows,
  AT,
  blocked,
  countEvents,
  malformed,
  META,
  openLog,
  registered,
} from '../helpers/log.js';

let opened: Sqlite[] = [];
const freshLog = () => {
  const log = openLog();
  opened.push(log.db);
  return log;
};
afterEach(() => {
  for (const db of opened) db.close();
  opened = [];
});

describe('event store: optimistic concurrency', () => {
  it('refuses a wrong expectedVersion with ConcurrencyError and writes nothing', () => {
    const { db, store } = freshLog();
    store.append([{ stream: 'user/a', events: [registered('a')] }], META, AT);
    const before = allRows(db);
    expect(() =>
      store.append([{ stream: 'user/a', expectedVersion: 3, events: [blocked('a')] }], META, AT),
    ).toThrow(ConcurrencyError);
    expect(store.head()).toBe(1);
    expect(allRows(db)).toEqual(before);
  });

  it('accepts expectedVersion 0 on a new stream and refuses it on an existing one', () => {
    const { store } = freshLog();
    const first = store.append(
      [{ stream: 'user/a', expectedVersion: 0, events: [registered('a')] }],
      META,
      AT,
    );
    expect(first.map((e) => [e.seq, e.version])).toEqual([[1, 1]]);
    const err = (() => {
      try {
        store.append([{ stream: 'user/a', expectedVersion: 0, events: [blocked('a')] }], META, AT);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConcurrencyError);
    expect(err).toMatchObject({ stream: 'user/a', expected: 0, actual: 1 });
    expect(store.head()).toBe(1);
  });

  it('accepts the right expectedVersion on an existing stream', () => {
    const { store } = freshLog();
    store.append([{ stream: 'user/a', events: [registered('a')] }], META, AT);
    const [event] = store.append(
      [{ stream: 'user/a', expectedVersion: 1, events: [blocked('a')] }],
      META,
      AT,
    );
    expect(event).toMatchObject({ seq: 2, version: 2, stream: 'user/a', type: 'UserBlocked' });
  });
});

describe('event store: atomic appends', () => {
  const twoStreams = (second: AppendRequest): AppendRequest[] => [
    { stream: 'user/a', expectedVersion: 0, events: [registered('a'), blocked('a')] },
    second,
  ];

  it('stores nothing of the first stream when the second is at the wrong version', () => {
    const { db, store } = freshLog();
    expect(() =>
      store.append(
        twoStreams({ stream: 'user/b', expectedVersion: 7, events: [registered('b')] }),
        META,
        AT,
      ),
    ).toThrow(ConcurrencyError);
    expect(countEvents(db)).toBe(0);
    expect(store.streamVersion('user/a')).toBe(0);
  });

  it('stores nothing of the first stream when the second carries invalid data', () => {
    const { db, store } = freshLog();
    expect(() =>
      store.append(twoStreams({ stream: 'user/b', events: [malformed('b')] }), META, AT),
    ).toThrow();
    expect(countEvents(db)).toBe(0);
  });

  it('stays atomic inside a caller transaction that catches the failure and commits', () => {
    const { db, store } = freshLog();
    db.transaction(() => {
      store.append([{ stream: 'user/z', events: [registered('z')] }], META, AT);
      expect(() =>
        store.append(
          twoStreams({ stream: 'user/b', expectedVersion: 7, events: [registered('b')] }),
          META,
          AT,
        ),
      ).toThrow(ConcurrencyError);
    })();
    expect(allRows(db).map((r) => r.stream)).toEqual(['user/z']);
  });

  it('refuses an event whose data fails its schema and writes nothing', () => {
    const { db, store } = freshLog();
    expect(() =>
      store.append([{ stream: 'user/a', events: [malformed('a')] }], META, AT),
    ).toThrow();
    expect(countEvents(db)).toBe(0);
    expect(store.head()).toBe(0);
  });

  it('refuses an unknown event type and writes nothing', () => {
    const { db, store } = freshLog();
    const unknown = { type: 'UserTeleported', data: {} } as never;
    expect(() => store.append([{ stream: 'user/a', events: [unknown] }], META, AT)).toThrow(
      /unknown event type/,
    );
    expect(countEvents(db)).toBe(0);
  });

  it('leaves nothing when an outer transaction rolls back', () => {
    const { db, store } = freshLog();
    store.append([{ stream: 'user/a', events: [registered('a')] }], META, AT);
    expect(() =>
      db.transaction(() => {
        store.append([{ stream: 'user/b', events: [registered('b'), blocked('b')] }], META, AT);
        expect(store.head()).toBe(3);
        throw new Error('caller gives up');
      })(),
    ).toThrow('caller gives up');
    expect(store.head()).toBe(1);
    expect(allRows(db).map((r) => r.stream)).toEqual(['user/a']);
  });
});

describe('event store: reading', () => {
  it('reads streams and ranges back decoded, in order, as append returned them', () => {
    const { store } = freshLog();
    const appended = [
      ...store.append([{ stream: 'user/a', events: [registered('a')] }], META, AT),
      ...store.append([{ stream: 'user/b', events: [registered('b'), blocked('b')] }], META, AT),
      ...store.append([{ stream: 'user/a', events: [blocked('a')] }], { actor: 'admin' }, AT),
    ];
    expect(appended.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(store.readRange(0, 100)).toStrictEqual(appended);
    expect(store.readRange(1, 2)).toStrictEqual(appended.slice(1, 3));
    expect(store.readStream('user/a')).toStrictEqual([appended[0], appended[3]]);
    expect(store.readStream('user/b', 1)).toStrictEqual([appended[2]]);
    expect(store.readStream('user/none')).toEqual([]);
    expect(store.streamVersion('user/b')).toBe(2);
    expect(appended[0]).toMatchObject({ at: AT.toISOString(), meta: META });
  });

  it('returns the meta as stored, so live projections see what a replay sees', () => {
    const { store } = freshLog();
    const meta = { actor: 'cli', ip: '127.0.0.1', extra: 'not part of the schema' };
    const [event] = store.append([{ stream: 'user/a', events: [registered('a')] }], meta, AT);
    expect(event).toStrictEqual(store.readRange(0, 1)[0]);
  });
});

type Step =
  | { kind: 'valid'; stream: number; count: number; expect: boolean }
  | { kind: 'malformed'; stream: number }
  | { kind: 'stale'; stream: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('valid' as const),
    stream: fc.nat(3),
    count: fc.integer({ min: 1, max: 3 }),
    expect: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('malformed' as const), stream: fc.nat(3) }),
  fc.record({ kind: fc.constant('stale' as const), stream: fc.nat(3) }),
);

describe('event store properties', () => {
  test.prop([fc.array(stepArb, { maxLength: 40 })])(
    'seq stays gap-free 1..N and stream versions 1..k whatever appends fail',
    (steps) => {
      const { db, store } = freshLog();
      const model = new Map<string, number>();
      for (const step of steps) {
        const stream = `user/s${step.stream}`;
        const version = model.get(stream) ?? 0;
        try {
          if (step.kind === 'valid') {
            const events = Array.from({ length: step.count }, () => blocked(`s${step.stream}`));
            const expectedVersion = step.expect ? version : undefined;
            store.append([{ stream, expectedVersion, events }], META, AT);
            model.set(stream, version + step.count);
          } else if (step.kind === 'malformed') {
            store.append([{ stream, events: [blocked('x'), malformed('x')] }], META, AT);
          } else {
            store.append(
              [{ stream, expectedVersion: version + 1, events: [blocked('x')] }],
              META,
              AT,
            );
          }
        } catch {
          expect(step.kind).not.toBe('valid');
        }
      }
      const rows = allRows(db);
      const total = [...model.values()].reduce((a, b) => a + b, 0);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(store.head()).toBe(total);
      for (const [stream, version] of model) {
        expect(rows.filter((r) => r.stream === stream).map((r) => r.version)).toEqual(
          Array.from({ length: version }, (_, i) => i + 1),
        );
      }
    },
  );

  test.prop([
    fc.record({
      userId: fc.string(),
      username: fc.string(),
      email: fc.string(),
      passwordHash: fc.string(),
      confirmed: fc.boolean(),
      locale: fc.string(),
      registeredBy: fc.constantFrom('self' as const, 'operator' as const, 'admin' as const),
    }),
    fc.record(
      { actor: fc.string(), ip: fc.option(fc.string(), { nil: undefined }) },
      { requiredKeys: ['actor'] },
    ),
  ])('append returns exactly what reading the log back gives', (data, meta) => {
    const { store } = freshLog();
    const appended = store.append(
      [{ stream: `user/${data.userId}`, events: [{ type: 'UserRegistered', data }] }],
      meta,
      AT,
    );
    expect(appended).toStrictEqual(store.readRange(0, 10));
  });
});
