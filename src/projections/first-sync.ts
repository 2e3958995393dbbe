import type { Sqlite } from '../log/index.js';
import { planFirstSync, type PlanRow } from './first-sync-plan.js';
import { payloadObject } from './op-paths.js';

/**
 * Each device's first sync: the vault head it was planned at and the ops it receives up
 * to that head (README, "A new device's first sync"). A side table, not a projection: it
 * records what a device was told, which is not a state change, so it stays out of the log
 * and replay leaves it alone. The plan is a pure function of the log up to `head`.
 */
const DDL = `
CREATE TABLE IF NOT EXISTS first_syncs (
  device_id TEXT PRIMARY KEY,
  stream TEXT NOT NULL,
  head INTEGER NOT NULL,
  last_row INTEGER NOT NULL,
  done INTEGER NOT NULL,
  rows_kept INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS first_sync_ops (
  device_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT,
  path TEXT,
  source INTEGER,
  PRIMARY KEY (device_id, seq)
) STRICT, WITHOUT ROWID;
`;

export interface FirstSync {
  readonly head: number;
  /** The seq of the plan's last row; 0 for an empty plan. */
  readonly lastRow: number;
  /** Whether the device has had the answer with has_more: false that ends its first sync. */
  readonly done: boolean;
  readonly rowsKept: boolean;
}

interface OpRow {
  seq: number;
  entity_type: string;
  entity_id: string;
  op_type: string;
  path: string | null;
}

export function createFirstSyncs(db: Sqlite, payloadAt: (seq: number) => string) {
  db.exec(DDL);
  const find = db.prepare(
    'SELECT head, last_row, done, rows_kept FROM first_syncs WHERE device_id = ?',
  );
  const insert = db.prepare(
    `INSERT INTO first_syncs (device_id, stream, head, last_row, done, rows_kept)
     VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const insertRow = db.prepare(
    'INSERT INTO first_sync_ops (device_id, seq, kind, path, source) VALUES (?, ?, ?, ?, ?)',
  );
  // Through the log's (stream, seq) index; payloads are read only where the plan asks.
  const vaultOps = db.prepare(`
    SELECT v.seq, v.entity_type, v.entity_id, v.op_type, v.path
    FROM log_events e JOIN vault_ops v ON v.seq = e.seq
    WHERE e.stream = (SELECT id FROM log_streams WHERE name = ?) AND e.seq <= ? ORDER BY e.seq`);
  const rows = db.prepare(`
    SELECT seq, kind, path, source FROM first_sync_ops
    WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ? + 0`);
  const markDone = db.prepare('UPDATE first_syncs SET done = 1 WHERE device_id = ?');
  const dropRows = db.prepare('DELETE FROM first_sync_ops WHERE device_id = ?');
  const markDropped = db.prepare('UPDATE first_syncs SET rows_kept = 0 WHERE device_id = ?');

  function* planInput(stream: string, head: number) {
    for (const op of vaultOps.iterate(stream, head) as IterableIterator<OpRow>) {
      yield {
        seq: op.seq,
        entityType: op.entity_type,
        entityId: op.entity_id,
        opType: op.op_type,
        path: op.path ?? op.entity_id,
        payload: () => payloadObject(payloadAt(op.seq)),
      };
    }
  }

  const toFirstSync = (row: {
    head: number;
    last_row: number;
    done: number;
    rows_kept: number;
  }) => ({
    head: row.head,
    lastRow: row.last_row,
    done: row.done === 1,
    rowsKept: row.rows_kept === 1,
  });

  return {
    find(deviceId: string): FirstSync | undefined {
      const row = find.get(deviceId) as Parameters<typeof toFirstSync>[0] | undefined;
      return row && toFirstSync(row);
    },

    /**
     * Plans the device's first sync at the vault's current head, in one transaction with
     * reading the ops, so the plan is exactly the log up to `head`.
     */
    start(deviceId: string, stream: string, head: number): FirstSync {
      return db
        .transaction(() => {
          const plan = head > 0 ? planFirstSync(planInput(stream, head)) : [];
          for (const row of plan) {
            const d = row.derive;
            insertRow.run(deviceId, row.seq, d?.kind ?? null, d?.path ?? null, d?.source ?? null);
          }
          const lastRow = plan.at(-1)?.seq ?? 0;
          // An empty vault has nothing to reconcile: that first sync is over before it starts.
          const done = plan.length === 0 ? 1 : 0;
          insert.run(deviceId, stream, head, lastRow, done, plan.length > 0 ? 1 : 0);
          return { head, lastRow, done: done === 1, rowsKept: plan.length > 0 };
        })
        .immediate();
    },

    /** Up to `limit` of the plan's rows after `after`. */
    rows(deviceId: string, after: number, limit: number): PlanRow[] {
      const found = rows.all(deviceId, after, limit) as {
        seq: number;
        kind: 'file' | 'folder' | 'workspace' | null;
        path: string | null;
        source: number | null;
      }[];
      return found.map((r) =>
        r.kind === null
          ? { seq: r.seq }
          : { seq: r.seq, derive: { kind: r.kind, path: r.path!, source: r.source! } },
      );
    },

    finish(deviceId: string) {
      markDone.run(deviceId);
    },

    /** Once the device's cursor is past every row, the rows are of no further use. */
    dropRows(deviceId: string) {
      db.transaction(() => {
        dropRows.run(deviceId);
        markDropped.run(deviceId);
      })();
    },
  };
}

export type FirstSyncs = ReturnType<typeof createFirstSyncs>;
