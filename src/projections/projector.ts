import {
  inWriteTransaction,
  type EventRow,
  type EventStore,
  type RecordedEvent,
  type Sqlite,
} from '../log/index.js';
import type { Projection } from './projection.js';

export type Progress = (done: number, total: number) => void;

export interface Projector {
  readonly projections: readonly Projection[];
  /** Applies committed-in-this-transaction events to every projection that handles them. */
  apply(events: readonly RecordedEvent[]): void;
  /**
   * Brings every projection up to the log's head: a projection whose stored version
   * differs from the code's (or that was never built) is truncated and rebuilt from seq 0.
   * Returns the names of the projections that were rebuilt.
   */
  catchUp(onProgress?: Progress): string[];
  /** Drops and rebuilds all projections from the log. */
  rebuildAll(onProgress?: Progress): void;
}

const BATCH = 5000;

export function createProjector(
  db: Sqlite,
  store: EventStore,
  projections: readonly Projection[],
): Projector {
  db.exec(`CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL
  ) STRICT`);
  for (const p of projections) p.init(db);

  const byType = new Map<string, Projection[]>();
  for (const p of projections) {
    for (const t of p.handles) byType.set(t, [...(byType.get(t) ?? []), p]);
  }
  const advanceAll = db.prepare('UPDATE projection_checkpoints SET position = ?');
  const readCheckpoint = db.prepare(
    'SELECT version, position FROM projection_checkpoints WHERE name = ?',
  );
  const writeCheckpoint = db.prepare(
    `INSERT INTO projection_checkpoints (name, version, position) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position`,
  );

  const applyTo = (targets: readonly Projection[], event: RecordedEvent) => {
    for (const p of targets) p.apply(db, event);
  };

  /** Feeds events (fromSeq, head] to `targets`, in batched transactions. */
  const feed = (targets: readonly Projection[], fromSeq: number, onProgress?: Progress) => {
    const handled = new Set(targets.flatMap((p) => p.handles as readonly string[]));
    const head = store.head();
    const total = head - fromSeq;
    let position = fromSeq;
    while (position < head) {
      const count = inWriteTransaction(db, () => {
        const rows: EventRow[] = store.readRows(position, BATCH);
        for (const row of rows) {
          if (handled.has(row.type)) {
            const event = store.decode(row);
            applyTo(
              targets.filter((p) => (p.handles as readonly string[]).includes(row.type)),
              event,
            );
          }
          position = row.seq;
        }
        for (const p of targets) writeCheckpoint.run(p.name, p.version, position);
        return rows.length;
      });
      onProgress?.(position - fromSeq, total);
      if (count === 0) break;
    }
    return position;
  };

  const reset = (p: Projection) => {
    inWriteTransaction(db, () => {
      for (const table of p.tables) db.exec(`DROP TABLE IF EXISTS "${table}"`);
      p.init(db);
      writeCheckpoint.run(p.name, p.version, 0);
    });
  };

  return {
    projections,
    apply(events) {
      if (events.length === 0) return;
      for (const event of events) {
        const targets = byType.get(event.type);
        if (targets) applyTo(targets, event);
      }
      advanceAll.run(events[events.length - 1]!.seq);
    },
    catchUp(onProgress) {
      const rebuilt: string[] = [];
      const stale: Projection[] = [];
      for (const p of projections) {
        const cp = readCheckpoint.get(p.name) as { version: number; position: number } | undefined;
        if (!cp || cp.version !== p.version) {
          reset(p);
          rebuilt.push(p.name);
          stale.push(p);
        } else if (cp.position < store.head()) {
          feed([p], cp.position);
        }
      }
      if (stale.length > 0) feed(stale, 0, onProgress);
      return rebuilt;
    },
    rebuildAll(onProgress) {
      for (const p of projections) reset(p);
      feed(projections, 0, onProgress);
    },
  };
}
