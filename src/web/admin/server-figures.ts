import { stat } from 'node:fs/promises';
import { createFileSweep } from '../../blobs/file-sweep.js';
import { wireTime } from '../../http/body.js';
import type { Sqlite } from '../../log/index.js';
import { adminStats, type AdminStats } from '../../projections/admin-stats.js';

/** What the database and the data directory take on disk; no path leaves this module. */
export interface DiskFigures {
  readonly databaseBytes: number;
  readonly walBytes: number;
  readonly tempUploads: number;
  readonly tempUploadBytes: number;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

export async function diskFigures(db: Sqlite, dataDir: string): Promise<DiskFigures> {
  const file = db.name === ':memory:' ? '' : db.name;
  const temp = await createFileSweep(dataDir).listTempUploads();
  return {
    databaseBytes: file ? await sizeOf(file) : 0,
    walBytes: file ? await sizeOf(`${file}-wal`) : 0,
    tempUploads: temp.length,
    tempUploadBytes: temp.reduce((sum, f) => sum + f.size, 0),
  };
}

export interface ServerFigures {
  readonly stats: AdminStats;
  readonly disk: DiskFigures;
}

export async function serverFigures(
  deps: { db: Sqlite; dataDir: string },
  now: Date,
): Promise<ServerFigures> {
  return { stats: adminStats(deps.db, now), disk: await diskFigures(deps.db, deps.dataDir) };
}

/** CONTRACT.md §10 `GET /admin/api/stats`, field for field; times as the wire writes them. */
export const statsBody = ({ stats: s, disk }: ServerFigures) => ({
  users: s.users,
  active_users: s.activeUsers,
  blocked_users: s.blockedUsers,
  unconfirmed_users: s.unconfirmedUsers,
  active_devices: s.activeDevices,
  revoked_devices: s.revokedDevices,
  vaults: s.vaults,
  operations: s.operations,
  operations_24h: s.operations24h,
  blobs: s.blobs,
  blob_references: s.blobReferences,
  orphan_blobs: s.orphanBlobs,
  temp_uploads: disk.tempUploads,
  expired_sessions: s.expiredSessions,
  expired_email_tokens: s.expiredEmailTokens,
  audit_events: s.auditEvents,
  // The database as it sits on disk: its file and the write-ahead log not yet folded in.
  database_bytes: disk.databaseBytes + disk.walBytes,
  blob_bytes: s.blobBytes,
  last_sync_activity: wireTime(s.lastSyncActivity),
  last_cleanup_at: wireTime(s.lastCleanupAt),
});
