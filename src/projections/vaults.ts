import type { Generated, Selectable } from 'kysely';
import {
  parseVaultStream,
  type EventOfType,
  type RecordedEvent,
  type Sqlite,
} from '../log/index.js';
import type { Projection } from './projection.js';
import { isContentOp, isPathOp, isRelocation, opPath } from './op-paths.js';
import { all, prepared, qb } from './query.js';

export interface VaultsTable {
  /** A compact key for the (user, vault) scope, assigned in log order: stable on replay. */
  id: Generated<number>;
  user_id: string;
  vault_id: string;
  op_count: number;
  head_seq: number;
  /** The last op that may have moved paths (see isRelocation): supersession stops there. */
  barrier_seq: number;
  /** The highest superseded op: a pull from at or past it needs no filter. */
  superseded_seq: number;
  created_at: string;
  last_activity: string;
}

/** One row per stored op, keyed by its sequence: inserts land at the end of the table. */
export interface VaultOpsTable {
  seq: number;
  vault: number;
  op_id: string;
  device_id: string;
  entity_type: string;
  entity_id: string;
  op_type: string;
  /** A file or folder op's path when it is not its entity_id (the desktop's never differ). */
  path: string | null;
}

/**
 * A content op that a later op on the same path makes pointless to apply: pulls leave it
 * out (README, "What a device receives").
 */
export interface SupersededOpsTable {
  seq: number;
  vault: number;
}

/**
 * The last op's sequence per entity: a push asks for conflicts only on entities that
 * changed after its last_seen. One row per entity, not per op, so the pages a group commit
 * dirties stay few however long the vault's history grows.
 */
export interface EntityHeadsTable {
  vault: number;
  entity_type: string;
  entity_id: string;
  last_seq: number;
}

export interface TombstonesTable {
  vault: number;
  entity_type: string;
  entity_id: string;
  op_id: string;
  deleted_at: string;
}

export interface PushAnswersTable {
  vault: number;
  idempotency_key: string;
  request_digest: string;
  response: string;
  answered_at: string;
}

const DDL = `
CREATE TABLE IF NOT EXISTS vaults (
  id INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL,
  vault_id TEXT NOT NULL,
  op_count INTEGER NOT NULL,
  head_seq INTEGER NOT NULL,
  barrier_seq INTEGER NOT NULL DEFAULT 0,
  superseded_seq INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  last_activity TEXT NOT NULL,
  UNIQUE (user_id, vault_id)
) STRICT;
CREATE TABLE IF NOT EXISTS vault_ops (
  seq INTEGER PRIMARY KEY,
  vault INTEGER NOT NULL,
  op_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  op_type TEXT NOT NULL,
  path TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS superseded_ops (
  seq INTEGER PRIMARY KEY,
  vault INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS vault_ops_op_id ON vault_ops (vault, op_id);
CREATE TABLE IF NOT EXISTS entity_heads (
  vault INTEGER NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  last_seq INTEGER NOT NULL,
  PRIMARY KEY (vault, entity_type, entity_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones (
  vault INTEGER NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  op_id TEXT NOT NULL,
  deleted_at TEXT NOT NULL,
  PRIMARY KEY (vault, entity_type, entity_id)
) STRICT;
CREATE TABLE IF NOT EXISTS push_answers (
  vault INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL,
  request_digest TEXT NOT NULL,
  response TEXT NOT NULL,
  answered_at TEXT NOT NULL,
  PRIMARY KEY (vault, idempotency_key)
) STRICT;
`;

// Pushes are the hot path: these run once per op, so they are plain SQL prepared once per
// database instead of being rebuilt by the query builder each time.
const prepare = (db: Sqlite) => ({
  findVault: prepared(db, 'SELECT id, barrier_seq FROM vaults WHERE user_id = ? AND vault_id = ?'),
  insertVault: prepared(
    db,
    `INSERT INTO vaults (user_id, vault_id, op_count, head_seq, created_at, last_activity)
     VALUES (?, ?, 0, 0, ?, ?)`,
  ),
  insertOp: prepared(
    db,
    `INSERT INTO vault_ops (seq, vault, op_id, device_id, entity_type, entity_id, op_type, path)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  ),
  entityHead: prepared(
    db,
    'SELECT last_seq FROM entity_heads WHERE vault = ? AND entity_type = ? AND entity_id = ?',
  ),
  opAt: prepared(db, 'SELECT op_type, path FROM vault_ops WHERE seq = ?'),
  insertSuperseded: prepared(
    db,
    'INSERT INTO superseded_ops (seq, vault) VALUES (?, ?) ON CONFLICT DO NOTHING',
  ),
  upsertEntityHead: prepared(
    db,
    `INSERT INTO entity_heads (vault, entity_type, entity_id, last_seq) VALUES (?, ?, ?, ?)
     ON CONFLICT (vault, entity_type, entity_id)
     DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)`,
  ),
  advanceVault: prepared(
    db,
    `UPDATE vaults SET op_count = op_count + ?, head_seq = ?, last_activity = ?,
       barrier_seq = max(barrier_seq, ?), superseded_seq = max(superseded_seq, ?)
     WHERE id = ? AND head_seq < ?`,
  ),
  upsertTombstone: prepared(
    db,
    `INSERT INTO tombstones (vault, entity_type, entity_id, op_id, deleted_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (vault, entity_type, entity_id)
     DO UPDATE SET op_id = excluded.op_id, deleted_at = excluded.deleted_at`,
  ),
  upsertAnswer: prepared(
    db,
    `INSERT INTO push_answers (vault, idempotency_key, request_digest, response, answered_at)
     VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (vault, idempotency_key) DO UPDATE SET request_digest = excluded.request_digest,
       response = excluded.response, answered_at = excluded.answered_at`,
  ),
});

type VaultStatements = ReturnType<typeof prepare>;

function vaultRow(s: VaultStatements, stream: string, at: string) {
  const { userId, vaultId } = parseVaultStream(stream);
  const found = s.findVault.get(userId, vaultId) as { id: number; barrier_seq: number } | undefined;
  if (found !== undefined) return found;
  return { id: Number(s.insertVault.run(userId, vaultId, at, at).lastInsertRowid), barrier_seq: 0 };
}

type VaultEvent = RecordedEvent<EventOfType<'OperationPushed' | 'PushAnswered'>>;
type WireOp = EventOfType<'OperationPushed'>['data']['op'];

const isFileWrite = (opType: string) =>
  opType === 'create' || opType === 'update' || opType === 'delete';

/**
 * Whether applying only the later of two ops on one path leaves a device as applying both
 * would, under the desktop's rules: content set by a create or update is replaced by any
 * later write; a delete is undone by a later update (the desktop writes an update whether
 * the file exists or not) and repeated by a later delete. A delete before a create is kept:
 * the desktop refuses a create over an existing file.
 */
const replaces = (previous: string, next: string) =>
  isContentOp('file', previous) || (previous === 'delete' && next !== 'create');

/**
 * The op this one makes pointless to apply, if any: the previous op on the same file entity,
 * at this same path, with nothing that moves paths in between. Ops whose path is not their
 * entity_id are never paired up (the desktop does not make them; they are delivered as they
 * are).
 */
function supersededBy(s: VaultStatements, vault: number, barrier: number, op: WireOp, seq: number) {
  if (op.entity_type !== 'file' || !isFileWrite(op.op_type)) return undefined;
  const row = s.entityHead.get(vault, 'file', op.entity_id) as { last_seq: number } | undefined;
  if (!row || row.last_seq >= seq || row.last_seq <= barrier) return undefined;
  const previous = s.opAt.get(row.last_seq) as { op_type: string; path: string | null };
  const samePathWrite = previous.path === null && isFileWrite(previous.op_type);
  return samePathWrite && replaces(previous.op_type, op.op_type) ? row.last_seq : undefined;
}

/**
 * Events in seq order; a run of one stream's ops shares the vault lookup and the vault's
 * update. Applying an event again changes nothing (ops are keyed by seq, heads only move
 * forward, the vault only advances past its head, a superseded op is a set member).
 */
function applyVaultEvents(db: Sqlite, events: readonly RecordedEvent[]): void {
  const s = prepare(db);
  let stream = '';
  let vault = { id: 0, barrier_seq: 0 };
  let added = 0;
  let superseded = 0;
  let last: RecordedEvent | undefined;
  const advance = () => {
    if (last && added > 0) {
      s.advanceVault.run(
        added,
        last.seq,
        last.at,
        vault.barrier_seq,
        superseded,
        vault.id,
        last.seq,
      );
    }
    added = 0;
    superseded = 0;
  };
  for (const event of events as readonly VaultEvent[]) {
    if (event.stream !== stream) {
      advance();
      stream = event.stream;
      vault = vaultRow(s, stream, event.at);
    }
    if (event.type === 'PushAnswered') {
      const d = event.data;
      s.upsertAnswer.run(vault.id, d.idempotencyKey, d.requestDigest, d.response, event.at);
      continue;
    }
    const d = event.data.op;
    const path = isPathOp(d.entity_type) ? opPath(d.entity_id, d.payload_json) : d.entity_id;
    const inserted = s.insertOp.run(
      event.seq,
      vault.id,
      d.op_id,
      d.device_id,
      d.entity_type,
      d.entity_id,
      d.op_type,
      path === d.entity_id ? null : path,
    ).changes;
    const previous =
      path === d.entity_id ? supersededBy(s, vault.id, vault.barrier_seq, d, event.seq) : undefined;
    if (previous !== undefined) {
      s.insertSuperseded.run(previous, vault.id);
      superseded = Math.max(superseded, previous);
    }
    if (isRelocation(d.entity_type, d.op_type)) vault.barrier_seq = event.seq;
    s.upsertEntityHead.run(vault.id, d.entity_type, d.entity_id, event.seq);
    if (d.op_type === 'delete') {
      s.upsertTombstone.run(vault.id, d.entity_type, d.entity_id, d.op_id, event.at);
    }
    added += inserted;
    last = event;
  }
  advance();
}

export const vaultsProjection: Projection = {
  name: 'vaults',
  version: 3,
  tables: ['vaults', 'vault_ops', 'superseded_ops', 'entity_heads', 'tombstones', 'push_answers'],
  handles: ['OperationPushed', 'PushAnswered'],
  init(db) {
    db.exec(DDL);
  },
  apply: (db, event) => applyVaultEvents(db, [event]),
  applyAll: applyVaultEvents,
};

// Read once or more per pushed op, so plain SQL prepared once like the writes above.
const reader = (db: Sqlite) => ({
  vault: prepared(db, 'SELECT * FROM vaults WHERE user_id = ? AND vault_id = ?'),
  op: prepared(db, 'SELECT seq FROM vault_ops WHERE vault = ? AND op_id = ?'),
  entityHead: prepared(
    db,
    'SELECT last_seq FROM entity_heads WHERE vault = ? AND entity_type = ? AND entity_id = ?',
  ),
  // Through the log's (stream, seq) index: only this vault's ops are visited.
  opsAfter: prepared(
    db,
    `SELECT v.op_id, v.device_id, v.op_type, v.seq, v.entity_type, v.entity_id
     FROM events e JOIN vault_ops v ON v.seq = e.seq
     WHERE e.stream = ? AND e.seq > ? ORDER BY e.seq`,
  ),
  answer: prepared(
    db,
    `SELECT request_digest, response FROM push_answers
     WHERE vault = ? AND idempotency_key = ? AND answered_at >= ?`,
  ),
});

export type VaultRow = Selectable<VaultsTable>;

export const findVault = (db: Sqlite, userId: string, vaultId: string) =>
  reader(db).vault.get(userId, vaultId) as VaultRow | undefined;

/** The sequence of a stored op, by its op_id in the vault. */
export const findVaultOpSeq = (db: Sqlite, vault: number, opId: string) =>
  (reader(db).op.get(vault, opId) as { seq: number } | undefined)?.seq;

/** The sequence of the last op on an entity, 0 when it has none. */
export const entityHeadSeq = (db: Sqlite, vault: number, entityType: string, entityId: string) =>
  (reader(db).entityHead.get(vault, entityType, entityId) as { last_seq: number } | undefined)
    ?.last_seq ?? 0;

export type StoredVaultOp = Pick<
  Selectable<VaultOpsTable>,
  'op_id' | 'device_id' | 'op_type' | 'seq' | 'entity_type' | 'entity_id'
>;

/** A vault's stored ops after a sequence, in order: where conflict candidates are looked up. */
export const vaultOpsAfter = (db: Sqlite, stream: string, afterSeq: number) =>
  reader(db).opsAfter.iterate(stream, afterSeq) as IterableIterator<StoredVaultOp>;

export const findPushAnswer = (db: Sqlite, vault: number, key: string, notBefore: string) =>
  reader(db).answer.get(vault, key, notBefore) as
    { request_digest: string; response: string } | undefined;

export const listVaultsOfUser = (db: Sqlite, userId: string) =>
  all(db, qb.selectFrom('vaults').selectAll().where('user_id', '=', userId).orderBy('vault_id'));
