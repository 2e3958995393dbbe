import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CATALOGUE,
  createAuditQuery,
  createEventStore,
  migrateLog,
  openDatabase,
  REDACTED,
  toAuditEntry,
  type AuditFilter,
  type DomainEvent,
  type EventRow,
  type Sqlite,
} from '../../src/log/index.js';

let db: Sqlite;

const registered = (userId: string): DomainEvent => ({
  type: 'UserRegistered',
  data: {
    userId,
    username: userId,
    email: `${userId}@example.com`,
    passwordHash: `$argon2id$v=19$secret-of-${userId}`,
    confirmed: true,
    locale: 'en',
    registeredBy: 'self',
  },
});

beforeEach(() => {
  db = openDatabase(':memory:');
  migrateLog(db, () => 'epoch');
  const store = createEventStore(db, CATALOGUE);
  const append = (stream: string, event: DomainEvent, at: string) =>
    store.append([{ stream, events: [event] }], { actor: 'test' }, new Date(at));
  append('user/u1', registered('u1'), '2024-01-01T00:00:00.000Z'); // 1
  append('user/u2', registered('u2'), '2024-01-02T00:00:00.000Z'); // 2
  append('user/u1', { type: 'UserBlocked', data: { userId: 'u1' } }, '2024-01-03T00:00:00.000Z'); // 3
  // An event about u1 recorded on another stream: found through its data.
  append('server', { type: 'UserUnblocked', data: { userId: 'u1' } }, '2024-01-04T00:00:00.000Z'); // 4
  append('user/u2', { type: 'UserBlocked', data: { userId: 'u2' } }, '2024-01-05T00:00:00.000Z'); // 5
});

afterEach(() => db.close());

const seqs = (filter: AuditFilter, afterSeq = 0, limit = 100) =>
  createAuditQuery(db)
    .page(filter, afterSeq, limit)
    .map((r) => r.seq);

describe('audit query', () => {
  it('returns everything in seq order without a filter', () => {
    expect(seqs({})).toEqual([1, 2, 3, 4, 5]);
  });

  it('filters by type, several types, and stream', () => {
    expect(seqs({ types: ['UserBlocked'] })).toEqual([3, 5]);
    expect(seqs({ types: ['UserBlocked', 'UserUnblocked'] })).toEqual([3, 4, 5]);
    expect(seqs({ stream: 'user/u2' })).toEqual([2, 5]);
  });

  it("matches a user by its stream or by the data's userId", () => {
    expect(seqs({ userId: 'u1' })).toEqual([1, 3, 4]);
    expect(seqs({ userId: 'u2', types: ['UserBlocked'] })).toEqual([5]);
  });

  it("matches a device by its stream or by the data's deviceId, skipping data that is not JSON", () => {
    const insert = db.prepare(
      `INSERT INTO events (seq, stream, version, type, schema_version, data, data_hash, meta, at, hash)
       VALUES (?, ?, ?, 'DevicePaired', 1, ?, 'x', '{}', '2024-02-01T00:00:00.000Z', 'x')`,
    );
    insert.run(6, 'device/d1', 1, '{"deviceId":"d1"}');
    insert.run(7, 'vault/u1/v1', 1, '{"deviceId":"d1","op":1}');
    insert.run(8, 'vault/u1/v1', 2, 'not json');
    expect(seqs({ deviceId: 'd1' })).toEqual([6, 7]);
    expect(seqs({ userId: 'u1' })).toEqual([1, 3, 4]);
  });

  it('bounds by time: since inclusive, until exclusive', () => {
    expect(seqs({ since: '2024-01-02T00:00:00.000Z', until: '2024-01-04T00:00:00.000Z' })).toEqual([
      2, 3,
    ]);
  });

  it('pages with afterSeq and limit', () => {
    expect(seqs({}, 1, 2)).toEqual([2, 3]);
    expect(seqs({ userId: 'u1' }, 1, 1)).toEqual([3]);
  });

  it('treats filter values as data, never as SQL', () => {
    expect(seqs({ stream: "x' OR '1'='1" })).toEqual([]);
    expect(seqs({ userId: "u1' OR 1=1 --" })).toEqual([]);
    expect(seqs({ types: ['UserBlocked") OR 1=1 --'] })).toEqual([]);
  });
});

describe('toAuditEntry', () => {
  const row = (seq: number) =>
    db.prepare('SELECT * FROM events WHERE seq = ?').get(seq) as EventRow;

  it('replaces the fields the event type marks as secret', () => {
    const entry = toAuditEntry(row(1), CATALOGUE);
    expect(entry).toMatchObject({
      seq: 1,
      type: 'UserRegistered',
      stream: 'user/u1',
      meta: { actor: 'test' },
    });
    expect(entry.data).toMatchObject({ userId: 'u1', passwordHash: REDACTED });
    expect(JSON.stringify(entry)).not.toContain('secret-of-u1');
  });

  it('hides the whole payload of a secret-bearing event whose data is not an object', () => {
    const damaged = { ...row(1), data: '"$argon2id$v=19$secret-of-u1"' };
    expect(toAuditEntry(damaged, CATALOGUE).data).toBe(REDACTED);
  });

  it('shows other events unchanged', () => {
    expect(toAuditEntry(row(3), CATALOGUE).data).toEqual({ userId: 'u1' });
  });
});
