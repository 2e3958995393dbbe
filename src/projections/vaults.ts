import { createHash } from 'node:crypto';
import type { Generated } from 'kysely';
import type { Sqlite } from '../log/index.js';
import type { Projection } from './projection.js';
import { all, first, qb, run } from './query.js';

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
  entityType: string;
  entityId: string;
  opType: string;
  payloadJson: string;
}): string {
  return createHash('sha256')
    .update(JSON.stringify([op.entityType, op.entityId, op.opType, op.payloadJson]))
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

function vaultRow(db: Sqlite, userId: string, vaultId: string, at: string): number {
  const found = findVault(db, userId, vaultId);
  if (found) return found.id;
  run(
    db,
    qb.insertInto('vaults').values({
      user_id: userId,
      vault_id: vaultId,
      op_count: 0,
      head_seq: 0,
      created_at: at,
      last_activity: at,
    }),
  );
  return findVault(db, userId, vaultId)!.id;
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
    switch (event.type) {
      case 'OperationPushed': {
        const d = event.data;
        const vault = vaultRow(db, d.userId, d.vaultId, event.at);
        run(
          db,
          qb
            .insertInto('vault_ops')
            .values({
              vault,
              op_id: d.opId,
              seq: event.seq,
              device_id: d.deviceId,
              entity_type: d.entityType,
              entity_id: d.entityId,
              op_type: d.opType,
              content_hash: opContentHash(d),
            })
            .onConflict((oc) => oc.doNothing()),
        );
        run(
          db,
          qb
            .updateTable('vaults')
            .set((eb) => ({
              op_count: eb('op_count', '+', 1),
              head_seq: event.seq,
              last_activity: event.at,
            }))
            .where('id', '=', vault)
            .where('head_seq', '<', event.seq),
        );
        if (d.opType === 'delete') {
          const row = {
            vault,
            entity_type: d.entityType,
            entity_id: d.entityId,
            op_id: d.opId,
            deleted_at: event.at,
          };
          run(
            db,
            qb
              .insertInto('tombstones')
              .values(row)
              .onConflict((oc) =>
                oc.columns(['vault', 'entity_type', 'entity_id']).doUpdateSet({
                  op_id: row.op_id,
                  deleted_at: row.deleted_at,
                }),
              ),
          );
        }
        return;
      }
      case 'PushAnswered': {
        const d = event.data;
        const vault = vaultRow(db, d.userId, d.vaultId, event.at);
        const row = {
          vault,
          idempotency_key: d.idempotencyKey,
          request_digest: d.requestDigest,
          response: d.response,
          answered_at: event.at,
        };
        run(
          db,
          qb
            .insertInto('push_answers')
            .values(row)
            .onConflict((oc) => oc.columns(['vault', 'idempotency_key']).doUpdateSet(row)),
        );
        return;
      }
      default:
        return;
    }
  },
};

export const findVault = (db: Sqlite, userId: string, vaultId: string) =>
  first(
    db,
    qb
      .selectFrom('vaults')
      .selectAll()
      .where('user_id', '=', userId)
      .where('vault_id', '=', vaultId),
  );

export const findVaultOp = (db: Sqlite, vault: number, opId: string) =>
  first(
    db,
    qb
      .selectFrom('vault_ops')
      .select(['seq', 'content_hash'])
      .where('vault', '=', vault)
      .where('op_id', '=', opId),
  );

/** Stored ops on one entity after a sequence: the candidates for a conflict report. */
export const entityOpsAfter = (
  db: Sqlite,
  vault: number,
  entityType: string,
  entityId: string,
  afterSeq: number,
) =>
  all(
    db,
    qb
      .selectFrom('vault_ops')
      .select(['op_id', 'device_id', 'op_type', 'seq'])
      .where('vault', '=', vault)
      .where('entity_type', '=', entityType)
      .where('entity_id', '=', entityId)
      .where('seq', '>', afterSeq)
      .orderBy('seq'),
  );

export const findPushAnswer = (db: Sqlite, vault: number, key: string, notBefore: string) =>
  first(
    db,
    qb
      .selectFrom('push_answers')
      .select(['request_digest', 'response'])
      .where('vault', '=', vault)
      .where('idempotency_key', '=', key)
      .where('answered_at', '>=', notBefore),
  );
