import type { EventOfType, Sqlite } from '../log/index.js';
import { ancestorsOf, payloadObject, touchedPaths } from './op-paths.js';
import { prepared } from './query.js';

/**
 * Which stored ops pulls leave out because later ops on the same path make them pointless
 * (README, "What a device receives"). Part of the vaults projection: its tables are
 * rebuilt with it, and it runs inside the append transaction.
 */

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

export const SUPERSESSION_DDL = `
CREATE TABLE IF NOT EXISTS superseded_ops (
  seq INTEGER PRIMARY KEY,
  vault INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS path_moves (
  vault INTEGER NOT NULL,
  path TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (vault, path)
) STRICT, WITHOUT ROWID;
`;

type WireOp = EventOfType<'OperationPushed'>['data']['op'];

export interface VaultState {
  readonly id: number;
  /** The vault's last relocation, of any path. */
  barrier_seq: number;
}

const statements = (db: Sqlite) => ({
  entityHead: prepared(
    db,
    `SELECT last_seq, kept_delete, last_write FROM entity_heads
     WHERE vault = ? AND entity_type = ? AND entity_id = ?`,
  ),
  pathMove: prepared(db, 'SELECT seq FROM path_moves WHERE vault = ? AND path = ?'),
  upsertPathMove: prepared(
    db,
    `INSERT INTO path_moves (vault, path, seq) VALUES (?, ?, ?)
     ON CONFLICT (vault, path) DO UPDATE SET seq = max(seq, excluded.seq)`,
  ),
});

/** An entity_heads row less its key. */
export interface EntityHead {
  last_seq: number;
  kept_delete: number;
  last_write: string;
}

/**
 * entity_heads kept in memory during a bulk rebuild (vaults.ts): vault id, then
 * headKey(entity_type, entity_id). A push's ops are mostly heads of a few entities
 * rewritten again and again, which then cost no lookup nor upsert each.
 */
export type EntityHeadCache = Map<
  number,
  Map<string, EntityHead & { entity_type: string; entity_id: string }>
>;
export const headKey = (entityType: string, entityId: string) => `${entityType}\0${entityId}`;

export const isFileWrite = (opType: string) =>
  opType === 'create' || opType === 'update' || opType === 'delete';

/** Whether a relocation touched `path`, one of its folders or an unknown path after `after`. */
function movedSince(
  s: ReturnType<typeof statements>,
  vault: number,
  path: string,
  after: number,
): boolean {
  for (const root of [path, ...ancestorsOf(path)]) {
    const row = s.pathMove.get(vault, root) as { seq: number } | undefined;
    if (row && row.seq > after) return true;
  }
  return false;
}

export interface Supersession {
  /** Earlier ops on the path that this one makes pointless to apply. */
  readonly superseded: readonly number[];
  /** The entity head's kept_delete after this op. */
  readonly keptDelete: number;
}

export const NONE: Supersession = { superseded: [], keptDelete: 0 };

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
export function supersession(
  db: Sqlite,
  vault: VaultState,
  op: WireOp,
  seq: number,
  heads?: EntityHeadCache,
): Supersession {
  if (op.entity_type !== 'file' || !isFileWrite(op.op_type)) return NONE;
  const s = statements(db);
  const head = heads
    ? heads.get(vault.id)?.get(headKey('file', op.entity_id))
    : (s.entityHead.get(vault.id, 'file', op.entity_id) as EntityHead | undefined);
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

/** Records the paths a relocation touched, so that supersession stops there. */
export function recordRelocation(db: Sqlite, vault: number, op: WireOp, seq: number) {
  const s = statements(db);
  for (const moved of touchedPaths(op.entity_type, op.entity_id, payloadObject(op.payload_json))) {
    s.upsertPathMove.run(vault, moved, seq);
  }
}
