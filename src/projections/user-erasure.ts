import type { Sqlite } from '../log/index.js';
import { prepared } from './query.js';

/**
 * Contents the user references and no other user does: a deletion drops their `blobs`
 * rows, so the retention cleanup finds the files unknown and removes them. Sorted, so
 * the UserDeleted event that lists them is the same for the same tables.
 */
export const blobsOnlyReferencedBy = (db: Sqlite, userId: string): string[] =>
  prepared(
    db,
    `SELECT DISTINCT r.sha256 FROM blob_refs r
     WHERE r.user_id = ?
       AND NOT EXISTS (SELECT 1 FROM blob_refs o WHERE o.sha256 = r.sha256 AND o.user_id <> r.user_id)
     ORDER BY r.sha256`,
  )
    .pluck()
    .all(userId) as string[];

export const userDeviceIds = (db: Sqlite, userId: string): string[] =>
  prepared(db, 'SELECT id FROM devices WHERE user_id = ? ORDER BY id')
    .pluck()
    .all(userId) as string[];

const tableExists = (db: Sqlite, name: string): boolean =>
  prepared(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !==
  undefined;

/**
 * The rows outside the log that hold a deleted user's data: their devices' first-sync
 * plans (op paths) and last-seen IPs, mails not yet sent to their address, and their failed
 * password checks. Replay
 * never rebuilds these, so the deletion itself must clear them. A table the process never
 * created (a CLI runtime without the sync API) has nothing to clear.
 */
export function eraseUserSideTables(
  db: Sqlite,
  subject: { userId: string; deviceIds: readonly string[]; email: string },
): void {
  const byDevice = ['first_sync_ops', 'first_syncs', 'device_activity'].filter((t) =>
    tableExists(db, t),
  );
  for (const deviceId of subject.deviceIds) {
    for (const table of byDevice) {
      prepared(db, `DELETE FROM ${table} WHERE device_id = ?`).run(deviceId);
    }
  }
  // device_activity's delete trigger already dropped the user's figure with the rows
  // above (device-activity.ts); this also catches one the triggers never knew of. Runs
  // after the fold, so the user is gone from users.
  if (tableExists(db, 'user_activity')) {
    prepared(
      db,
      'DELETE FROM user_activity WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = user_id)',
    ).run();
  }
  if (tableExists(db, 'mail_outbox')) {
    prepared(db, 'DELETE FROM mail_outbox WHERE recipient = ?').run(subject.email);
  }
  // The account's failed password checks (security/password-budget.ts keys them user:<id>).
  if (tableExists(db, 'password_failures')) {
    prepared(db, 'DELETE FROM password_failures WHERE account = ?').run(`user:${subject.userId}`);
  }
}
