import type { Sqlite } from '../log/index.js';
import { prepared } from './query.js';

const BY_DEVICE = ['first_sync_ops', 'first_syncs', 'device_activity'] as const;

/**
 * The rows outside the log keyed by a deleted device: its last-seen time and IP, and its
 * first-sync plan. Replay never rebuilds them, so the deletion clears them itself. A table
 * the process never created (a CLI runtime without the sync API) has nothing to clear.
 */
export function eraseDeviceSideTables(db: Sqlite, deviceId: string): void {
  for (const table of BY_DEVICE) {
    const exists = prepared(
      db,
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
    ).get(table);
    if (exists) prepared(db, `DELETE FROM ${table} WHERE device_id = ?`).run(deviceId);
  }
}
