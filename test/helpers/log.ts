import {
  CATALOGUE,
  createEventStore,
  migrateLog,
  openDatabase,
  type Catalogue,
  type DomainEvent,
  type EventMeta,
  type EventRow,
  type EventStore,
  type Sqlite,
} from '../../src/log/index.js';

export const META: EventMeta = { actor: 'test', requestId: 'req-1' };
export const AT = new Date('2026-07-10T12:00:00.000Z');

let epochs = 0;

/** A fresh in-memory log with the real migrations (DESIGN.md §33). */
export function openLog(catalogue: Catalogue = CATALOGUE): { db: Sqlite; store: EventStore } {
  const db = openDatabase(':memory:');
  migrateLog(db, () => `epoch-${++epochs}`);
  return { db, store: createEventStore(db, catalogue) };
}

export const registered = (userId: string, username = `user-${userId}`): DomainEvent => ({
  type: 'UserRegistered',
  data: {
    userId,
    username,
    email: `${username}@example.org`,
    passwordHash: 'test$hash',
    confirmed: false,
    locale: 'en',
    registeredBy: 'operator',
  },
});

export const blocked = (userId: string): DomainEvent => ({ type: 'UserBlocked', data: { userId } });

/** A file op pushed by device-1: revision `n` of `path`. */
export const pushedFileOp = (
  n: number,
  opId = `op-${n}`,
  path = `Notes/${n}.md`,
  opType = 'update',
): DomainEvent => ({
  type: 'OperationPushed',
  data: {
    client_sequence: n,
    last_seen_server_seq: 0,
    conflicts: [],
    op: {
      op_id: opId,
      device_id: 'device-1',
      entity_type: 'file',
      entity_id: path,
      op_type: opType,
      payload_json: JSON.stringify({ path, content: `revision ${n}` }),
      created_at: '2026-12-01T09:00:00Z',
    },
  },
});

/** An event whose data its zod schema refuses. */
export const malformed = (userId: string): DomainEvent =>
  ({ type: 'UserBlocked', data: { userId: 42, of: userId } }) as unknown as DomainEvent;

export const allRows = (db: Sqlite) =>
  db.prepare('SELECT * FROM events ORDER BY seq').all() as EventRow[];

export const countEvents = (db: Sqlite) =>
  db.prepare('SELECT count(*) FROM events').pluck().get() as number;
