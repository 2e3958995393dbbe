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
   * Indexes on its tables that only queries read (never `apply`, a trigger or a UNIQUE
   * rule): a rebuild from seq 0 may drop them for the load and create them afterwards.
   */
  readonly deferredIndexes?: readonly string[];
  init(db: Sqlite): void;
  apply(db: Sqlite, event: RecordedEvent): void;
  /**
   * Applies several events in seq order at once, with the same result as `apply` on each:
   * for hot projections that can share lookups and updates across a batch.
   */
  applyAll?(db: Sqlite, events: readonly RecordedEvent[]): void;
}
