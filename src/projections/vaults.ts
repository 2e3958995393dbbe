import type { Generated, Selectable } from 'kysely';
import {
  parseVaultStream,
  type EventOfType,
  type RecordedEvent,
  type Sqlite,
} from '../log/index.js';
import type { Projection } from './projection.js';
import {
  ancestorsOf,
  isPathOp,
  isRelocation,
  opPath,
  payloadObject,
  touchedPaths,
} from './op-paths.js';
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
 * The last relocation that touched each path, as its source or target; path '' stands for
 * a relocation whose paths the server cannot read (it touches every path).
 */
export interface PathMovesTable {
  vault: number;
  path: string;
  seq: number;
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
  /**
   * When the last op is a file create that followed a delete of its path, that delete: a
   * later update or delete of the path makes both pointless. 0 otherwise.
   */
  kept_delete: number;
  /** The last op's type when it wrote the file at its own path ('' otherwise). */
  last_write: string;
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
  kept_delete INTEGER NOT NULL DEFAULT 0,
  last_write TEXT NOT NULL DEFAULT '',
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
CREATE TABLE IF NOT EXISTS path_moves (
  vault INTEGER NOT NULL,
  path TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (vault, path)
) STRICT, WITHOUT ROWID;
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
    `SELECT last_seq, kept_delete, last_write FROM entity_heads
     WHERE vault = ? AND entity_type = ? AND entity_id = ?`,
  ),
  insertSuperseded: prepared(
    db,
    'INSERT INTO superseded_ops (seq, vault) VALUES (?, ?) ON CONFLICT DO NOTHING',
  ),
  pathMove: prepared(db, 'SELECT seq FROM path_moves WHERE vault = ? AND path = ?'),
  upsertPathMove: prepared(
    db,
    `INSERT INTO path_moves (vault, path, seq) VALUES (?, ?, ?)
     ON CONFLICT (vault, path) DO UPDATE SET seq = max(seq, excluded.seq)`,
  ),
  upsertEntityHead: prepared(
    db,
    `INSERT INTO entity_heads (vault, entity_type, entity_id, last_seq, kept_delete, last_write)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (vault, entity_type, entity_id) DO UPDATE SET
       kept_delete = iif(excluded.last_seq > last_seq, excluded.kept_delete, kept_delete),
       last_write = iif(excluded.last_seq > last_seq, excluded.last_write, last_write),
       last_seq = max(last_seq, excluded.last_seq)`,
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

interface VaultState {
  readonly id: number;
  /** The vault's last relocation, of any path. */
  barrier_seq: number;
}

function vaultRow(s: VaultStatements, stream: string, at: string): VaultState {
  const { userId, vaultId } = parseVaultStream(stream);
  const found = s.findVault.get(userId, vaultId) as { id: number; barrier_seq: number } | undefined;
  if (found !== undefined) return found;
  return { id: Number(s.insertVault.run(userId, vaultId, at, at).lastInsertRowid), barrier_seq: 0 };
}

type VaultEvent = RecordedEvent<EventOfType<'OperationPushed' | 'PushAnswered'>>;
type WireOp = EventOfType<'OperationPushed'>['data']['op'];

const isFileWrite = (opType: string) =>
  opType === 'create' || opType === 'update' || opType === 'delete';

/** Whether a relocation touched `path`, one of its folders or an unknown path after `after`. */
function movedSince(s: VaultStatements, vault: number, path: string, after: number): boolean {
  for (const root of [path, ...ancestorsOf(path)]) {
    const row = s.pathMove.get(vault, root) as { seq: number } | undefined;
    if (row && row.seq > after) return true;
  }
  return false;
}

interface Supersession {
  /** Earlier ops on the path that this one makes pointless to apply. */
  readonly superseded: readonly number[];
  /** The entity head's kept_delete after this op. */
  readonly keptDelete: number;
}

const NONE: Supersession = { superseded: [], keptDelete: 0 };

/**
 * Which earlier writes of this file op's path are pointless once it is stored, so that
 * applying the rest leaves every device where applying all would, under the desktop's rules.
 * An update writes the file whether it exists or not and a delete removes it whatever it
 * held, so either makes every earlier write since the path's last relocation pointless: the
 * previous op, and the delete before it when that was a create. A create makes a previous
 * create or update pointless, but not a delete before it: the desktop refuses a create over
 * an existing file. Only ops whose path is their entity_id are paired up (the desktop's
 * always are; others are delivered as they are), and none across a relocation of the path
 * or of a folder above it.
 */
function supersession(
  s: VaultStatements,
  vault: VaultState,
  op: WireOp,
  seq: number,
): Supersession {
  if (op.entity_type !== 'file' || !isFileWrite(op.op_type)) return NONE;
  const head = s.entityHead.get(vault.id, 'file', op.entity_id) as
    { last_seq: number; kept_delete: number; last_write: string } | undefined;
  if (!head || head.last_seq >= seq) return NONE;
  // The vault's last relocation is older than the previous op: no path lookups needed.
  if (head.last_seq <= vault.barrier_seq && movedSince(s, vault.id, op.entity_id, head.last_seq)) {
    return NONE;
  }
  const previous = head.last_write;
  if (previous === '') return NONE;
  if (op.op_type === 'create') {
    return previous === 'delete'
      ? { superseded: [], keptDelete: head.last_seq }
      : { superseded: [head.last_seq], keptDelete: head.kept_delete };
  }
  const kept = previous === 'create' && head.kept_delete > 0 ? [head.kept_delete] : [];
  return { superseded: [head.last_seq, ...kept], keptDelete: 0 };
}

/**
 * Events in seq order; a run of one stream's ops shares the vault lookup and the vault's
 * update. Applying an event again changes nothing (ops are keyed by seq, heads only move
 * forward, the vault only advances past its head, a superseded op is a set member).
 */
function applyVaultEvents(db: Sqlite, events: readonly RecordedEvent[]): void {
  const s = prepare(db);
  let stream = '';
  let vault: VaultState = { id: 0, barrier_seq: 0 };
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
    const found = path === d.entity_id ? supersession(s, vault, d, event.seq) : NONE;
    for (const earlier of found.superseded) {
      s.insertSuperseded.run(earlier, vault.id);
      superseded = Math.max(superseded, earlier);
    }
    if (isRelocation(d.entity_type, d.op_type)) {
      vault.barrier_seq = event.seq;
      const payload = payloadObject(d.payload_json);
      for (const moved of touchedPaths(d.entity_type, d.entity_id, payload)) {
        s.upsertPathMove.run(vault.id, moved, event.seq);
      }
    }
    const ownPathWrite = d.entity_type === 'file' && path === d.entity_id && isFileWrite(d.op_type);
    s.upsertEntityHead.run(
      vault.id,
      d.entity_type,
      d.entity_id,
      event.seq,
      found.keptDelete,
      ownPathWrite ? d.op_type : '',
    );
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
  tables: [
    'vaults',
    'vault_ops',
    'superseded_ops',
    'path_moves',
    'entity_heads',
    'tombstones',
    'push_answers',
  ],
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
