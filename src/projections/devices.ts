import type { Selectable } from 'kysely';
import type { Sqlite } from '../log/index.js';
import type { Projection } from './projection.js';
import { all, first, prepared, qb, run } from './query.js';

export interface DevicesTable {
  id: string;
  user_id: string;
  vault_id: string;
  name: string;
  client_version: string;
  /** sha256 of the bearer token; lookups hash the presented token. */
  token_hash: string;
  /** The token's first 8 and last 4 characters; null for devices paired before hints. */
  token_hint: string | null;
  created_at: string;
  revoked_at: string | null;
}

export type DeviceRow = Selectable<DevicesTable>;

export const devicesProjection: Projection = {
  name: 'devices',
  // v2: token_hint, and DeviceDeleted drops the row. v3: user_device_counts.
  version: 3,
  // The counter table comes after its source table (counters.ts): replay's swap empties it
  // first and refills it last, so the devices triggers find no row to move meanwhile.
  tables: ['devices', 'user_device_counts'],
  handles: ['UserRegistered', 'DevicePaired', 'DeviceRevoked', 'DeviceDeleted', 'UserDeleted'],
  deferredIndexes: ['user_device_counts_active'],
  bulk: {
    begin(db) {
      bulkUsers.set(db, new Set());
    },
    end: writeDeviceCounts,
  },
  init(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS devices (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        vault_id TEXT NOT NULL,
        name TEXT NOT NULL,
        client_version TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        token_hint TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT
      ) STRICT;
      CREATE INDEX IF NOT EXISTS devices_user ON devices (user_id, created_at);
      -- The admin devices list filters and sorts on these; devices_vault also serves the
      -- per-vault device counts of the vaults pages (admin-inventory.ts).
      CREATE INDEX IF NOT EXISTS devices_vault ON devices (vault_id, user_id);
      CREATE INDEX IF NOT EXISTS devices_version ON devices (client_version);
      CREATE INDEX IF NOT EXISTS devices_created ON devices (created_at);
      CREATE INDEX IF NOT EXISTS devices_name ON devices (name);
      CREATE INDEX IF NOT EXISTS devices_revoked ON devices (revoked_at);
    `);
    db.exec(USER_DEVICE_COUNTS_DDL);
  },
  apply(db, event) {
    switch (event.type) {
      case 'UserRegistered':
        if (bulkUsers.has(db)) {
          bulkUsers.get(db)!.add(event.data.userId);
          return;
        }
        prepared(
          db,
          'INSERT OR IGNORE INTO user_device_counts (user_id, active) VALUES (?, 0)',
        ).run(event.data.userId);
        return;
      case 'DevicePaired': {
        const d = event.data;
        const row = {
          id: d.deviceId,
          user_id: d.userId,
          vault_id: d.vaultId,
          name: d.name,
          client_version: d.clientVersion,
          token_hash: d.tokenHash,
          token_hint: d.tokenHint,
          created_at: event.at,
          revoked_at: null,
        };
        run(
          db,
          qb
            .insertInto('devices')
            .values(row)
            .onConflict((oc) => oc.column('id').doUpdateSet(row)),
        );
        return;
      }
      case 'UserDeleted':
        bulkUsers.get(db)?.delete(event.data.userId);
        run(db, qb.deleteFrom('devices').where('user_id', '=', event.data.userId));
        prepared(db, 'DELETE FROM user_device_counts WHERE user_id = ?').run(event.data.userId);
        return;
      case 'DeviceDeleted':
        run(db, qb.deleteFrom('devices').where('id', '=', event.data.deviceId));
        return;
      case 'DeviceRevoked':
        run(
          db,
          qb
            .updateTable('devices')
            .set({ revoked_at: event.at })
            .where('id', '=', event.data.deviceId),
        );
        return;
      default:
        return;
    }
  },
};

/**
 * During a bulk rebuild, the users with a user_device_counts row to come: one random-key
 * insert per registration cost a replay of a million of them seconds; `end` writes the
 * rows once, in key order.
 */
const bulkUsers = new WeakMap<Sqlite, Set<string>>();
const COUNT_ROWS_CHUNK = 10_000;

/**
 * The rows the triggers would have kept: every registered user that was not deleted, with
 * their unrevoked devices (each such devices row was inserted or updated while the user's
 * count row existed, since a device is paired after its user registers and goes with them).
 */
function writeDeviceCounts(db: Sqlite): void {
  const users = bulkUsers.get(db);
  if (!users) return;
  bulkUsers.delete(db);
  const ids = [...users].sort();
  const insert = db.prepare(
    `INSERT OR IGNORE INTO user_device_counts (user_id, active) SELECT value, 0 FROM json_each(?)`,
  );
  for (let i = 0; i < ids.length; i += COUNT_ROWS_CHUNK) {
    insert.run(JSON.stringify(ids.slice(i, i + COUNT_ROWS_CHUNK)));
  }
  db.exec(`UPDATE user_device_counts SET active = (SELECT count(*) FROM devices d
    WHERE d.user_id = user_device_counts.user_id AND d.revoked_at IS NULL)
    WHERE user_id IN (SELECT user_id FROM devices WHERE revoked_at IS NULL)`);
}

/**
 * Active (unrevoked) devices per user, for the admin users list sorted by device count:
 * every user has a row (0 from UserRegistered on), so the sort walks (active, user_id) and
 * joins users by key. Triggers move the count with every devices row change, whoever makes
 * it; they only update an existing row, so the rows of replay's swap (devices refilled
 * while the counts are empty) move nothing, and the counts are then copied as rebuilt.
 */
const USER_DEVICE_COUNTS_DDL = `
CREATE TABLE IF NOT EXISTS user_device_counts (
  user_id TEXT PRIMARY KEY,
  active INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS user_device_counts_active ON user_device_counts (active, user_id);
CREATE TRIGGER IF NOT EXISTS devices_counted_insert AFTER INSERT ON devices
WHEN NEW.revoked_at IS NULL BEGIN
  UPDATE user_device_counts SET active = active + 1 WHERE user_id = NEW.user_id;
END;
CREATE TRIGGER IF NOT EXISTS devices_counted_delete AFTER DELETE ON devices
WHEN OLD.revoked_at IS NULL BEGIN
  UPDATE user_device_counts SET active = active - 1 WHERE user_id = OLD.user_id;
END;
CREATE TRIGGER IF NOT EXISTS devices_counted_update AFTER UPDATE OF user_id, revoked_at
ON devices BEGIN
  UPDATE user_device_counts SET active = active - (OLD.revoked_at IS NULL)
    WHERE user_id = OLD.user_id;
  UPDATE user_device_counts SET active = active + (NEW.revoked_at IS NULL)
    WHERE user_id = NEW.user_id;
END;
`;

export const findDeviceById = (db: Sqlite, id: string) =>
  first(db, qb.selectFrom('devices').selectAll().where('id', '=', id));

/**
 * The device behind a token, with the state of its owner, in one indexed lookup. Every
 * sync request runs it, so it is plain SQL prepared once rather than built per call.
 */
export const findDeviceByTokenHash = (db: Sqlite, tokenHash: string) =>
  prepared(
    db,
    `SELECT devices.*, users.username, users.blocked FROM devices
     INNER JOIN users ON users.id = devices.user_id WHERE devices.token_hash = ?`,
  ).get(tokenHash) as (DeviceRow & { username: string; blocked: number }) | undefined;

export const listDevicesOfUser = (db: Sqlite, userId: string) =>
  all(
    db,
    qb
      .selectFrom('devices')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc'),
  );
