import type { Generated } from 'kysely';
import {
  parseVaultStream,
  type EventOfType,
  type RecordedEvent,
  type Sqlite,
} from '../log/index.js';
import { VAULT_COUNTER_TABLES, VAULT_COUNTERS_DDL } from './counters.js';
import type { Projection } from './projection.js';
import { isPathOp, isRelocation, opPath } from './op-paths.js';
import { prepared } from './query.js';
import {
  headKey,
  isFileWrite,
  NONE,
  type EntityHeadCache,
  recordRelocation,
  supersession,
  SUPERSESSION_DDL,
  type VaultState,
} from './supersession.js';

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
  entity_type: string;
  entity_id: string;
  op_type: string;
  /** A file or folder op's path when it is not its entity_id (the desktop's never differ). */
  path: string | null;
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
${SUPERSESSION_DDL}
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
-- The admin vaults list sorts on these (admin-inventory.ts; last_activity's is in counters.ts).
CREATE INDEX IF NOT EXISTS vaults_vault_id ON vaults (vault_id);
CREATE INDEX IF NOT EXISTS vaults_op_count ON vaults (op_count);
CREATE INDEX IF NOT EXISTS vaults_created ON vaults (created_at);
CREATE TABLE IF NOT EXISTS vault_ops (
  seq INTEGER PRIMARY KEY,
  vault INTEGER NOT NULL,
  op_id TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  op_type TEXT NOT NULL,
  path TEXT
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
CREATE TABLE IF NOT EXISTS push_answers (
  vault INTEGER NOT NULL,
  idempotency_key TEXT NOT NULL,
  request_digest TEXT NOT NULL,
  response TEXT NOT NULL,
  answered_at TEXT NOT NULL,
  PRIMARY KEY (vault, idempotency_key)
) STRICT;
`;

const OP_COLUMNS = ['seq', 'vault', 'op_id', 'entity_type', 'entity_id', 'op_type', 'path'];

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
    `INSERT INTO vault_ops (seq, vault, op_id, entity_type, entity_id, op_type, path)
     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  ),
  insertSuperseded: prepared(
    db,
    'INSERT INTO superseded_ops (seq, vault) VALUES (?, ?) ON CONFLICT DO NOTHING',
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
  countedSeq: prepared(db, 'SELECT counted_seq FROM vault_totals WHERE id = 1'),
  countSync: prepared(
    db,
    'UPDATE vault_totals SET sync_events = sync_events + ?, counted_seq = ? WHERE id = 1',
  ),
  addMinute: prepared(
    db,
    `INSERT INTO ops_by_minute (minute, ops, first_seq, last_seq) VALUES (?, ?, ?, ?)
     ON CONFLICT (minute) DO UPDATE SET ops = ops + excluded.ops,
       first_seq = min(first_seq, excluded.first_seq), last_seq = max(last_seq, excluded.last_seq)`,
  ),
  dropMinutesBefore: prepared(db, 'DELETE FROM ops_by_minute WHERE minute < ?'),
});

type VaultStatements = ReturnType<typeof prepare>;

const MINUTES_KEPT_MS = 48 * 3_600_000;
const minuteOf = (at: string) => at.slice(0, 16);

/**
 * The dashboard's counts of sync traffic (counters.ts): every OperationPushed and
 * PushAnswered, erased or not, so that a rebuild, which sees erased ones as EventRedacted,
 * counts what the live fold counted. Events at or below counted_seq were counted already.
 */
function syncTally(s: VaultStatements) {
  const from = (s.countedSeq.get() as { counted_seq: number } | undefined)?.counted_seq ?? 0;
  let events = 0;
  let lastSeq = from;
  const minutes = new Map<string, { ops: number; first: number; last: number }>();
  return {
    count(event: RecordedEvent, isOp: boolean) {
      if (event.seq <= lastSeq) return;
      events += 1;
      lastSeq = event.seq;
      if (!isOp) return;
      const minute = minuteOf(event.at);
      const m = minutes.get(minute);
      if (m) {
        m.ops += 1;
        m.last = event.seq;
      } else minutes.set(minute, { ops: 1, first: event.seq, last: event.seq });
    },
    flush(newestAt: string) {
      if (events === 0) return;
      for (const [minute, m] of minutes) s.addMinute.run(minute, m.ops, m.first, m.last);
      s.countSync.run(events, lastSeq);
      const horizon = new Date(new Date(newestAt).getTime() - MINUTES_KEPT_MS).toISOString();
      s.dropMinutesBefore.run(minuteOf(horizon));
    },
  };
}

function vaultRow(s: VaultStatements, stream: string, at: string): VaultState {
  const { userId, vaultId } = parseVaultStream(stream);
  const found = s.findVault.get(userId, vaultId) as { id: number; barrier_seq: number } | undefined;
  if (found !== undefined) return found;
  return { id: Number(s.insertVault.run(userId, vaultId, at, at).lastInsertRowid), barrier_seq: 0 };
}

// Rows per multi-row INSERT of a bulk rebuild: 7 × 64 parameters, well under SQLite's limit.
const BULK_ROWS = 64;

/**
 * Rows of one table collected during a bulk rebuild and inserted BULK_ROWS at a time: a
 * replay of a million pushed ops ran two million single-row statements, each paying its
 * own call, bind and step. `flush` returns the rows inserted (ON CONFLICT DO NOTHING may
 * skip some, as the single-row statement would, since the rows go in their order).
 */
function rowBuffer(db: Sqlite, table: string, columns: readonly string[]) {
  const values = (n: number) =>
    Array.from({ length: n }, () => `(${columns.map(() => '?').join(', ')})`).join(', ');
  const sql = (n: number) =>
    `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values(n)} ON CONFLICT DO NOTHING`;
  const many = prepared(db, sql(BULK_ROWS));
  const one = prepared(db, sql(1));
  const width = columns.length;
  let pending: unknown[] = [];
  return {
    push(...row: unknown[]) {
      for (const v of row) pending.push(v);
    },
    flush(): number {
      let changes = 0;
      let at = 0;
      const chunk = BULK_ROWS * width;
      for (; at + chunk <= pending.length; at += chunk) {
        changes += many.run(pending.slice(at, at + chunk)).changes;
      }
      for (; at < pending.length; at += width) {
        changes += one.run(pending.slice(at, at + width)).changes;
      }
      pending = [];
      return changes;
    },
  };
}

type VaultEvent = RecordedEvent<EventOfType<'OperationPushed' | 'PushAnswered' | 'EventRedacted'>>;
const isVaultEventType = (type: string) => type === 'OperationPushed' || type === 'PushAnswered';
/**
 * Events in seq order; a run of one stream's ops shares the vault lookup and the vault's
 * update. Applying an event again changes nothing (ops are keyed by seq, heads only move
 * forward, the vault only advances past its head, a superseded op is a set member).
 */
function applyVaultEvents(db: Sqlite, events: readonly RecordedEvent[]): void {
  const s = prepare(db);
  const heads = bulkHeads.get(db);
  // Only in a bulk rebuild: a live push keeps its statements as they were.
  const opRows = heads && rowBuffer(db, 'vault_ops', OP_COLUMNS);
  const supersededRows = heads && rowBuffer(db, 'superseded_ops', ['seq', 'vault']);
  let stream = '';
  let vault: VaultState = { id: 0, barrier_seq: 0 };
  let added = 0;
  let superseded = 0;
  let last: RecordedEvent | undefined;
  const tally = syncTally(s);
  let newestAt = '';
  const advance = () => {
    // The vault's ops are in before its count moves (the triggers read op_count only).
    if (opRows) added += opRows.flush();
    supersededRows?.flush();
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
    if (event.type === 'EventRedacted' && !isVaultEventType(event.data.type)) continue;
    tally.count(
      event,
      event.type === 'OperationPushed' ||
        (event.type === 'EventRedacted' && event.data.type === 'OperationPushed'),
    );
    newestAt = event.at;
    if (event.stream !== stream) {
      advance();
      stream = event.stream;
      vault = vaultRow(s, stream, event.at);
    }
    // An erased op of a deleted user still created its vault row when it was applied
    // live; a rebuild creates it too (just above), so that the vaults created later get
    // the same ids, and the UserDeleted event drops it again.
    if (event.type === 'EventRedacted') continue;
    if (event.type === 'PushAnswered') {
      const d = event.data;
      s.upsertAnswer.run(vault.id, d.idempotencyKey, d.requestDigest, d.response, event.at);
      continue;
    }
    const d = event.data.op;
    const path = isPathOp(d.entity_type) ? opPath(d.entity_id, d.payload_json) : d.entity_id;
    const row = [
      event.seq,
      vault.id,
      d.op_id,
      d.entity_type,
      d.entity_id,
      d.op_type,
      path === d.entity_id ? null : path,
    ];
    let inserted = 0;
    if (opRows) opRows.push(...row);
    else inserted = s.insertOp.run(...row).changes;
    const found = path === d.entity_id ? supersession(db, vault, d, event.seq, heads) : NONE;
    for (const earlier of found.superseded) {
      if (supersededRows) supersededRows.push(earlier, vault.id);
      else s.insertSuperseded.run(earlier, vault.id);
      superseded = Math.max(superseded, earlier);
    }
    if (isRelocation(d.entity_type, d.op_type)) {
      vault.barrier_seq = event.seq;
      recordRelocation(db, vault.id, d, event.seq);
    }
    const ownPathWrite = d.entity_type === 'file' && path === d.entity_id && isFileWrite(d.op_type);
    const lastWrite = ownPathWrite ? d.op_type : '';
    if (heads) {
      // The upsert's rule: a head only moves forward.
      let ofVault = heads.get(vault.id);
      if (!ofVault) {
        ofVault = new Map();
        heads.set(vault.id, ofVault);
      }
      const key = headKey(d.entity_type, d.entity_id);
      const head = ofVault.get(key);
      if (!head || event.seq > head.last_seq) {
        ofVault.set(key, {
          entity_type: d.entity_type,
          entity_id: d.entity_id,
          last_seq: event.seq,
          kept_delete: found.keptDelete,
          last_write: lastWrite,
        });
      }
    } else {
      s.upsertEntityHead.run(
        vault.id,
        d.entity_type,
        d.entity_id,
        event.seq,
        found.keptDelete,
        lastWrite,
      );
    }
    if (d.op_type === 'delete') {
      s.upsertTombstone.run(vault.id, d.entity_type, d.entity_id, d.op_id, event.at);
    }
    added += inserted;
    last = event;
  }
  advance();
  tally.flush(newestAt);
}

/**
 * entity_heads of a bulk rebuild (Projection.bulk), kept in memory until its end: a
 * replay of a million ops otherwise spent a lookup and an upsert on this table per op.
 */
const bulkHeads = new WeakMap<Sqlite, EntityHeadCache>();

function writeEntityHeads(db: Sqlite): void {
  const heads = bulkHeads.get(db);
  if (!heads) return;
  bulkHeads.delete(db);
  const s = prepare(db);
  for (const vault of [...heads.keys()].sort((a, b) => a - b)) {
    const ofVault = heads.get(vault)!;
    for (const key of [...ofVault.keys()].sort()) {
      const h = ofVault.get(key)!;
      s.upsertEntityHead.run(
        vault,
        h.entity_type,
        h.entity_id,
        h.last_seq,
        h.kept_delete,
        h.last_write,
      );
    }
  }
}

/** A deleted user's vaults and every row derived from their ops. */
function deleteUserVaults(db: Sqlite, userId: string) {
  const vaults = 'SELECT id FROM vaults WHERE user_id = ?';
  const heads = bulkHeads.get(db);
  if (heads) {
    for (const id of prepared(db, vaults).pluck().all(userId) as number[]) heads.delete(id);
  }
  for (const table of [
    'vault_ops',
    'superseded_ops',
    'path_moves',
    'entity_heads',
    'tombstones',
    'push_answers',
  ]) {
    prepared(db, `DELETE FROM ${table} WHERE vault IN (${vaults})`).run(userId);
  }
  prepared(db, 'DELETE FROM vaults WHERE user_id = ?').run(userId);
}

export const vaultsProjection: Projection = {
  name: 'vaults',
  version: 5,
  tables: [
    'vaults',
    'vault_ops',
    'superseded_ops',
    'path_moves',
    'entity_heads',
    'tombstones',
    'push_answers',
    ...VAULT_COUNTER_TABLES,
  ],
  handles: ['OperationPushed', 'PushAnswered', 'CleanupRan', 'UserDeleted', 'EventRedacted'],
  bulk: {
    begin(db) {
      bulkHeads.set(db, new Map());
    },
    end: writeEntityHeads,
  },
  init(db) {
    db.exec(DDL);
    db.exec(VAULT_COUNTERS_DDL);
  },
  apply(db, event) {
    // Idempotency answers expire (retention.idempotency_hours); ops and tombstones never do.
    if (event.type === 'CleanupRan') {
      prepared(db, 'DELETE FROM push_answers WHERE answered_at < ?').run(
        event.data.pushAnswersBefore,
      );
      return;
    }
    if (event.type === 'UserDeleted') {
      deleteUserVaults(db, event.data.userId);
      return;
    }
    applyVaultEvents(db, [event]);
  },
  applyAll: applyVaultEvents,
};
