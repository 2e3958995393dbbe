import type { Selectable } from 'kysely';
import type { Sqlite } from '../log/index.js';
import { all, prepared, qb } from './query.js';
import type { VaultOpsTable, VaultsTable } from './vaults.js';

// Read once or more per pushed op, so plain SQL prepared once per database.
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
    `SELECT v.op_id, v.op_type, v.seq, v.entity_type, v.entity_id
     FROM log_events e JOIN vault_ops v ON v.seq = e.seq
     WHERE e.stream = (SELECT id FROM log_streams WHERE name = ?) AND e.seq > ? ORDER BY e.seq`,
  ),
  opDevice: prepared(
    db,
    "SELECT json_extract(data, '$.op.device_id') FROM log_events WHERE seq = ?",
  ).pluck(),
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
  'op_id' | 'op_type' | 'seq' | 'entity_type' | 'entity_id'
>;

/**
 * The device that pushed a stored op, from the log: vault_ops leaves it out (the event holds
 * it, and it is read only for the rare ops a push conflicts with).
 */
export const storedOpDeviceId = (db: Sqlite, seq: number) =>
  reader(db).opDevice.get(seq) as string;

/** A vault's stored ops after a sequence, in order: where conflict candidates are looked up. */
export const vaultOpsAfter = (db: Sqlite, stream: string, afterSeq: number) =>
  reader(db).opsAfter.iterate(stream, afterSeq) as IterableIterator<StoredVaultOp>;

export const findPushAnswer = (db: Sqlite, vault: number, key: string, notBefore: string) =>
  reader(db).answer.get(vault, key, notBefore) as
    { request_digest: string; response: string } | undefined;

export const listVaultsOfUser = (db: Sqlite, userId: string) =>
  all(db, qb.selectFrom('vaults').selectAll().where('user_id', '=', userId).orderBy('vault_id'));

/** Idempotency answers a cleanup with this cutoff removes (CleanupRan). */
export const countStalePushAnswers = (db: Sqlite, answeredBefore: string): number =>
  (
    prepared(db, 'SELECT count(*) AS n FROM push_answers WHERE answered_at < ?').get(
      answeredBefore,
    ) as { n: number }
  ).n;
