import type { Sqlite } from '../log/index.js';

/**
 * last_seen, client version and IP of each device: a side table updated in place, not a
 * projection. Touches are not state changes, so they stay out of the log and are not
 * rebuilt by replay.
 */
export function createDeviceActivity(db: Sqlite, minIntervalMs = 60_000) {
  db.exec(`CREATE TABLE IF NOT EXISTS device_activity (
    device_id TEXT PRIMARY KEY,
    last_seen TEXT NOT NULL,
    ip TEXT NOT NULL
  ) STRICT`);
  db.exec(USER_ACTIVITY_DDL);
  backfillUserActivity(db);
  const upsert = db.prepare(
    `INSERT INTO device_activity (device_id, last_seen, ip) VALUES (?, ?, ?)
     ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen, ip = excluded.ip`,
  );
  const read = db.prepare('SELECT last_seen, ip FROM device_activity WHERE device_id = ?');
  // Every synced request authenticates; writing each touch would cost an fsync per request.
  const lastWrite = new Map<string, number>();
  return {
    /**
     * Records a request of the device, at most once per interval. Bookkeeping: a write the
     * database refuses (a full disk) is returned, not thrown, so that it never fails the
     * request it rode on; the next interval tries again.
     */
    touch(deviceId: string, at: Date, ip: string): Error | undefined {
      const previous = lastWrite.get(deviceId);
      if (previous !== undefined && at.getTime() - previous < minIntervalMs) return undefined;
      if (lastWrite.size > 100_000) lastWrite.clear();
      lastWrite.set(deviceId, at.getTime());
      try {
        upsert.run(deviceId, at.toISOString(), ip);
        return undefined;
      } catch (err) {
        return err as Error;
      }
    },
    lastSeen(deviceId: string): { last_seen: string; ip: string } | undefined {
      return read.get(deviceId) as { last_seen: string; ip: string } | undefined;
    },
  };
}

/**
 * Each user's latest request over their devices, for the admin users list sorted by last
 * seen: the (last_seen, user_id) index walks it in order where a per-user MAX over
 * device_activity read every user. A user never seen has no row. The triggers recompute
 * the user's MAX on every write of device_activity, whoever makes it (the touch, a bench
 * seed, an erasure), so the figure is exactly what the MAX over the devices gives: a
 * device's time going back, or its row erased with a deleted device or user, lowers it.
 * A delete recomputes the users whose figure was the erased time: the device row is gone
 * by then (erasures run after the fold), so the users to redo are found by that time.
 */
const USER_ACTIVITY_DDL = `
CREATE TABLE IF NOT EXISTS user_activity (
  user_id TEXT PRIMARY KEY,
  last_seen TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS user_activity_last_seen ON user_activity (last_seen, user_id);
CREATE TRIGGER IF NOT EXISTS device_activity_user_insert AFTER INSERT ON device_activity BEGIN
  ${recomputeUserOf('NEW.device_id')}
END;
CREATE TRIGGER IF NOT EXISTS device_activity_user_update AFTER UPDATE OF last_seen
ON device_activity BEGIN
  ${recomputeUserOf('NEW.device_id')}
END;
CREATE TRIGGER IF NOT EXISTS device_activity_user_delete AFTER DELETE ON device_activity BEGIN
  UPDATE user_activity SET last_seen = coalesce((SELECT MAX(a.last_seen) FROM devices d
      JOIN device_activity a ON a.device_id = d.id WHERE d.user_id = user_activity.user_id), '')
    WHERE last_seen = OLD.last_seen;
  DELETE FROM user_activity WHERE last_seen = '';
END;
`;

// An upsert, not INSERT OR REPLACE: in a trigger, the conflict rule of the statement that
// fired it (the touch's own upsert: ABORT) overrides an OR REPLACE of the body.
function recomputeUserOf(deviceId: string): string {
  return `INSERT INTO user_activity (user_id, last_seen)
    SELECT d.user_id, (SELECT MAX(a.last_seen) FROM devices o
      JOIN device_activity a ON a.device_id = o.id WHERE o.user_id = d.user_id)
    FROM devices d WHERE d.id = ${deviceId}
    ON CONFLICT (user_id) DO UPDATE SET last_seen = excluded.last_seen;`;
}

const USER_ACTIVITY_SQL = `SELECT d.user_id, MAX(a.last_seen) FROM devices d
  JOIN device_activity a ON a.device_id = d.id GROUP BY d.user_id`;

/**
 * Fills user_activity from device_activity when it differs (a database from before the
 * table, or rows written while the triggers did not exist): one grouped pass, at start.
 */
export function backfillUserActivity(db: Sqlite): void {
  const hasDevices = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'devices'")
    .get();
  if (!hasDevices) return;
  const stale = db
    .prepare(
      `SELECT EXISTS (SELECT user_id, last_seen FROM user_activity
         EXCEPT ${USER_ACTIVITY_SQL}) OR EXISTS (${USER_ACTIVITY_SQL}
         EXCEPT SELECT user_id, last_seen FROM user_activity) AS stale`,
    )
    .get() as { stale: number };
  if (!stale.stale) return;
  db.transaction(() => {
    db.exec('DELETE FROM user_activity');
    db.exec(`INSERT INTO user_activity (user_id, last_seen) ${USER_ACTIVITY_SQL}`);
  }).immediate();
}

export type DeviceActivity = ReturnType<typeof createDeviceActivity>;
