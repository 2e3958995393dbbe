import { createHash } from 'node:crypto';
import type { Generated, Selectable } from 'kysely';
import { parseVaultStream, type Sqlite } from '../log/index.js';
import type { Projection } from './projection.js';
import { all, prepared, qb } from './query.js';

export interface VaultsTable {
  /** A compact key for the (user, vault) scope, assigned in log order: stable on replay. */
  id: Generated<number>;
  user_id: string;
  vault_id: string;
  op_count: number;
  head_seq: number;
  created_at: string;
  last_activity: string;
}

export interface VaultOpsTable {
  vault: number;
  op_id: string;
  seq: number;
  device_id: string;
  entity_type: string;
  entity_id: string;
  op_type: string;
  /** Identity of the op's content: a retry may differ only in sequences and created_at. */
  content_hash: string;
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

export function opContentHash(op: {
  entity_type: string;
  entity_id: string;
  op_type: string;
  payload_json: string;
}): string {
  return createHash('sha256')
    .update(JSON.stringify([op.entity_type, op.entity_id, op.op_type, op.payload_json]))
    .digest('base64url');
}

const DDL = `
CREATE TABLE IF NOT EXISTS vaults (
  id INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL,
  vault_id TEXT NOT NULL,
  op_count INTEGER NOT NULL,
  head_seq INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  last_activity TEXT NOT NULL,
  UNIQUE (user_id, vault_id)
) STRICT;
CREATE TABLE IF NOT EXISTS vault_ops (
  vault INTEGER NOT NULL,
  op_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  device_id TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  op_type TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  PRIMARY KEY (vault, op_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vault_ops_entity ON vault_ops (vault, entity_type, entity_id, seq);
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
  findVault: prepared(db, 'SELECT id FROM vaults WHERE user_id = ? AND vault_id = ?'),
  insertVault: prepared(
    db,
    `INSERT INTO vaults (user_id, vault_id, op_count, head_seq, created_at, last_activity)
     VALUES (?, ?, 0, 0, ?, ?)`,
  ),
  insertOp: prepared(
    db,
    `INSERT INTO vault_ops (vault, op_id, seq, device_id, entity_type, entity_id, op_type, content_hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  ),
  advanceVault: prepared(
    db,
    `UPDATE vaults SET op_count = op_count + 1, head_seq = ?, last_activity = ?
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

function vaultRow(s: VaultStatements, stream: string, at: string): number {
  const { userId, vaultId } = parseVaultStream(stream);
  const found = (s.findVault.get(userId, vaultId) as { id: number } | undefined)?.id;
  if (found !== undefined) return found;
  return Number(s.insertVault.run(userId, vaultId, at, at).lastInsertRowid);
}

export const vaultsProjection: Projection = {
  name: 'vaults',
  version: 1,
  tables: ['vaults', 'vault_ops', 'tombstones', 'push_answers'],
  handles: ['OperationPushed', 'PushAnswered'],
  init(db) {
    db.exec(DDL);
  },
  apply(db, event) {
    const s = prepare(db);
    switch (event.type) {
      case 'OperationPushed': {
        const d = event.data.op;
        const vault = vaultRow(s, event.stream, event.at);
        s.insertOp.run(
          vault,
          d.op_id,
          event.seq,
          d.device_id,
          d.entity_type,
          d.entity_id,
          d.op_type,
          opContentHash(d),
        );
        s.advanceVault.run(event.seq, event.at, vault, event.seq);
        if (d.op_type === 'delete') {
          s.upsertTombstone.run(vault, d.entity_type, d.entity_id, d.op_id, event.at);
        }
        return;
      }
      case 'PushAnswered': {
        const d = event.data;
        const vault = vaultRow(s, event.stream, event.at);
        s.upsertAnswer.run(vault, d.idempotencyKey, d.requestDigest, d.response, event.at);
        return;
      }
      default:
        return;
    }
  },
};

// Read once or more per pushed op, so plain SQL prepared once like the writes above.
const reader = (db: Sqlite) => ({
  vault: prepared(db, 'SELECT * FROM vaults WHERE user_id = ? AND vault_id = ?'),
  op: prepared(db, 'SELECT seq, content_hash FROM vault_ops WHERE vault = ? AND op_id = ?'),
  entityOps: prepared(
    db,
    `SELECT op_id, device_id, op_type, seq FROM vault_ops
     WHERE vault = ? AND entity_type = ? AND entity_id = ? AND seq > ? ORDER BY seq`,
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

export const findVaultOp = (db: Sqlite, vault: number, opId: string) =>
  reader(db).op.get(vault, opId) as { seq: number; content_hash: string } | undefined;

/** Stored ops on one entity after a sequence: the candidates for a conflict report. */
export const entityOpsAfter = (
  db: Sqlite,
  vault: number,
  entityType: string,
  entityId: string,
  afterSeq: number,
) =>
  reader(db).entityOps.all(vault, entityType, entityId, afterSeq) as {
    op_id: string;
    device_id: string;
    op_type: string;
    seq: number;
  }[];

export const findPushAnswer = (db: Sqlite, vault: number, key: string, notBefore: string) =>
  reader(db).answer.get(vault, key, notBefore) as
    | { request_digest: string; response: string }
    | undefined;

export const listVaultsOfUser = (db: Sqlite, userId: string) =>
  all(db, qb.selectFrom('vaults').selectAll().where('user_id', '=', userId).orderBy('vault_id'));
