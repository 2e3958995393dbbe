import type { EventType, RecordedEvent, Sqlite } from '../log/index.js';

/**
 * A read model: tables built only from the log. `apply` must be an upsert or an
 * idempotent update, and must never reject an event (rules belong in the deciders).
 */
export interface Projection {
  readonly name: string;
  /** Bump when the tables or the apply logic change: the projection is then rebuilt. */
  readonly version: number;
  readonly tables: readonly string[];
  readonly handles: readonly EventType[];
  /**
   * Indexes on its tables that `apply` and the triggers never read: a rebuild from seq 0
   * may drop them for the load and create them afterwards. A UNIQUE index may be one when
   * no `apply` names it in an ON CONFLICT: the log holds only events whose live apply kept
   * it (a violation fails the append), so the rows built in seq order keep it too.
   */
  readonly deferredIndexes?: readonly string[];
  /**
   * For a rebuild from seq 0 into a database nobody else reads or writes (replay's
   * scratch): `begin` runs before the first event, `end` after the last and before the
   * deferred indexes are built. In between, `apply` may keep rows in memory or leave
   * derived rows to `end`, as long as the tables after `end` equal an event-by-event build.
   */
  readonly bulk?: BulkLoad;
  init(db: Sqlite): void;
  apply(db: Sqlite, event: RecordedEvent): void;
  /**
   * Applies several events in seq order at once, with the same result as `apply` on each:
   * for hot projections that can share lookups and updates across a batch.
   */
  applyAll?(db: Sqlite, events: readonly RecordedEvent[]): void;
}

export interface BulkLoad {
  begin(db: Sqlite): void;
  end(db: Sqlite): void;
}
