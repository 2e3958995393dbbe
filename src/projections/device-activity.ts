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
  const upsert = db.prepare(
    `INSERT INTO device_activity (device_id, last_seen, ip) VALUES (?, ?, ?)
     ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen, ip = excluded.ip`,
  );
  const read = db.prepare('SELECT last_seen, ip FROM device_activity WHERE device_id = ?');
  // Every synced request authenticates; writing each touch would cost an fsync per request.
  const lastWrite = new Map<string, number>();
  return {
    touch(deviceId: string, at: Date, ip: string) {
      const previous = lastWrite.get(deviceId);
      if (previous !== undefined && at.getTime() - previous < minIntervalMs) return;
      if (lastWrite.size > 100_000) lastWrite.clear();
      lastWrite.set(deviceId, at.getTime());
      upsert.run(deviceId, at.toISOString(), ip);
    },
    lastSeen(deviceId: string): { last_seen: string; ip: string } | undefined {
      return read.get(deviceId) as { last_seen: string; ip: string } | undefined;
    },
  };
}

export type DeviceActivity = ReturnType<typeof createDeviceActivity>;
