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

  const advanceAll = db.prepare('UPDATE projection_checkpoints SET position = ?');
  const readCheckpoint = db.prepare(
    'SELECT version, position FROM projection_checkpoints WHERE name = ?',
  );
  const writeCheckpoint = db.prepare(
    `INSERT INTO projection_checkpoints (name, version, position) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = excluded.position`,
  );

  const byTypeOf = (targets: readonly Projection[]) => {
    const map = new Map<string, Projection[]>();
    for (const p of targets) {
      for (const t of p.handles) map.set(t, [...(map.get(t) ?? []), p]);
    }
    return map;
  };
  const byType = byTypeOf(projections);

  /**
   * Applies events in seq order. A run of consecutive events that only one projection
   * handles goes to its applyAll when it has one; anything else is applied event by event,
   * so a projection never sees the log out of order relative to the others.
   */
  const applyEvents = (events: Iterable<RecordedEvent>, targetsOf: Map<string, Projection[]>) => {
    let run: RecordedEvent[] = [];
    let owner: Projection | undefined;
    const flushRun = () => {
      if (owner && run.length > 0) owner.applyAll!(db, run);
      run = [];
      owner = undefined;
    };
    for (const event of events) {
      const targets = targetsOf.get(event.type);
      if (!targets) continue;
      const only = targets.length === 1 ? targets[0]! : undefined;
      if (only?.applyAll) {
        if (owner !== only) flushRun();
        owner = only;
        run.push(event);
        continue;
      }
      flushRun();
      for (const p of targets) p.apply(db, event);
    }
    flushRun();
  };

  /** Feeds events (fromSeq, head] to `targets`, in batched transactions. */
  const feed = (targets: readonly Projection[], fromSeq: number, onProgress?: Progress) => {
    const targetsOf = byTypeOf(targets);
    const head = store.head();
    const total = head - fromSeq;
    let position = fromSeq;
    while (position < head) {
      const count = inWriteTransaction(db, () => {
        const rows: EventRow[] = store.readRows(position, BATCH);
        const events = rows.filter((r) => targetsOf.has(r.type)).map((r) => store.decode(r));
        applyEvents(events, targetsOf);
        if (rows.length > 0) position = rows[rows.length - 1]!.seq;
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
      applyEvents(events, byType);
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
