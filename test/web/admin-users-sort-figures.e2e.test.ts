import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOGUE, type Sqlite } from '../../src/log/index.js';
import {
  ensureFold,
  listUsersForAdmin,
  type AdminUserQuery,
  type UserStatus,
} from '../../src/projections/admin-queries.js';
import {
  backfillUserActivity,
  createDeviceActivity,
} from '../../src/projections/device-activity.js';
import { replayProjections } from '../../src/projections/rebuild.js';
import { appendEpisodes, recordActivity } from '../../scripts/bench/web-seed.js';
import { buildTimeline } from '../../scripts/bench/web-timeline.js';
import { startAdminServer } from './admin-rig.js';

// The users list sorted by devices and by last seen walks the kept figures
// (user_device_counts, user_activity); the order must be the one the per-user correlated
// subqueries gave before, ties, never-seen users and users without devices included, on
// every page, and still after a replay swaps rebuilt projections in.

const OLD_SORT = {
  devices: `(SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.revoked_at IS NULL)`,
  last_seen: `(SELECT MAX(a.last_seen) FROM devices d
    JOIN device_activity a ON a.device_id = d.id WHERE d.user_id = u.id)`,
} as const;

const STATUS_WHERE: Record<UserStatus | '', string> = {
  '': '',
  active: 'AND u.blocked = 0 AND u.confirmed = 1',
  blocked: 'AND u.blocked = 1',
  unconfirmed: 'AND u.confirmed = 0',
};

/** The order the correlated query gives, filtered the way the list filters. */
function oldOrder(db: Sqlite, query: AdminUserQuery & { sort: keyof typeof OLD_SORT }) {
  const dir = query.order === 'asc' ? 'ASC' : 'DESC';
  const search = query.q
    ? `AND (instr(u.username_key, @q) > 0 OR instr(verstak_fold(u.email), @q) > 0)`
    : '';
  return db
    .prepare(
      `SELECT u.id FROM users u WHERE 1 ${STATUS_WHERE[query.status]} ${search}
       ORDER BY ${OLD_SORT[query.sort]} ${dir}, u.id ${dir}`,
    )
    .pluck()
    .all(query.q ? { q: query.q.toLocaleLowerCase() } : {}) as string[];
}

/** Every page of the list, concatenated, with the total each page reported. */
function allPages(db: Sqlite, query: AdminUserQuery) {
  const ids: string[] = [];
  const totals = new Set<number>();
  for (let page = 1; page <= 100; page++) {
    const { rows, total } = listUsersForAdmin(db, { ...query, page });
    totals.add(total);
    if (rows.length === 0) break;
    ids.push(...rows.map((r) => r.id));
  }
  return { ids, totals: [...totals] };
}

function expectSameOrders(db: Sqlite) {
  ensureFold(db);
  for (const sort of ['devices', 'last_seen'] as const) {
    for (const order of ['asc', 'desc'] as const) {
      for (const status of ['', 'active', 'blocked', 'unconfirmed'] as const) {
        for (const q of ['', 'an']) {
          const query = { q, status, sort, order, page: 1, perPage: 7 };
          const expected = oldOrder(db, query);
          const label = JSON.stringify({ sort, order, status, q });
          const got = allPages(db, query);
          expect(got.ids, label).toEqual(expected);
          expect(got.totals, label).toEqual([expected.length]);
        }
      }
    }
  }
  // The kept figures are the correlated ones, user by user.
  const figures = db
    .prepare(
      `SELECT u.id, ${OLD_SORT.devices} AS devices, ${OLD_SORT.last_seen} AS last_seen,
         (SELECT active FROM user_device_counts c WHERE c.user_id = u.id) AS kept_devices,
         (SELECT last_seen FROM user_activity a WHERE a.user_id = u.id) AS kept_last_seen
       FROM users u ORDER BY u.id`,
    )
    .all() as { devices: number; last_seen: string | null; kept_devices: number | null }[];
  for (const f of figures) {
    expect(f).toMatchObject({ kept_devices: f.devices, kept_last_seen: f.last_seen });
  }
  // No kept row outlives its user.
  const orphans = db
    .prepare(
      `SELECT (SELECT COUNT(*) FROM user_device_counts WHERE user_id NOT IN (SELECT id FROM users))
        + (SELECT COUNT(*) FROM user_activity WHERE user_id NOT IN (SELECT id FROM users)) AS n`,
    )
    .pluck()
    .get();
  expect(orphans).toBe(0);
  return figures;
}

describe('the users list sorted by devices and by last seen', () => {
  it('lists users in the correlated query order, before and after a replay', async () => {
    // Closed by admin-rig after the test.
    const server = await startAdminServer();
    const runtime = server.runtime;
    const { db, store, projector } = runtime;
    const timeline = buildTimeline(
      { users: 60, devices: 120, ops: 1500, otherEvents: 600 },
      Date.parse('2026-12-01T00:00:00Z'),
    );
    const { lastSeen } = appendEpisodes(db, store, timeline, false);
    projector.rebuildAll();
    recordActivity(db, lastSeen);
    // Ties: several devices (of several users) seen at the same instant; a device's time
    // going back; never-seen users: their devices' rows erased, as a deletion does.
    const devices = db.prepare('SELECT id FROM devices ORDER BY id').pluck().all() as string[];
    const tie = db.prepare('UPDATE device_activity SET last_seen = ? WHERE device_id = ?');
    for (const id of devices.slice(0, 12)) tie.run('2026-11-20T10:00:00.000Z', id);
    tie.run('2000-01-01T00:00:00.000Z', devices[20]!);
    const erase = db.prepare('DELETE FROM device_activity WHERE device_id = ?');
    for (const id of devices.slice(30, 45)) erase.run(id);
    // And the server's own writes: a touch after the latest, one tying the instant above.
    const activity = createDeviceActivity(db, 0);
    activity.touch(devices[50]!, new Date('2026-12-02T00:00:00.000Z'), '203.0.113.7');
    activity.touch(devices[51]!, new Date('2026-11-20T10:00:00.000Z'), '203.0.113.7');

    // Through the commands: a revocation, a removal of the device that was its user's
    // latest, a user's deletion (their rows outside the log go with the events' fold).
    const meta = { actor: 'test' };
    const latest = (sql: string) => db.prepare(sql).get() as { id: string; user_id: string };
    const seenActive = `SELECT d.id, d.user_id FROM devices d
        JOIN device_activity a ON a.device_id = d.id WHERE d.revoked_at IS NULL`;
    const revoked = latest(`${seenActive} ORDER BY a.last_seen DESC LIMIT 1`);
    runtime.devices.revoke(revoked.id, revoked.user_id, 'admin', meta);
    const removed = latest(`${seenActive} AND d.user_id <> '${revoked.user_id}'
        ORDER BY a.last_seen DESC LIMIT 1`);
    expect(runtime.devices.remove(removed.id, { revokeFirst: true }, meta)).toBe(true);
    const deleted = latest(`${seenActive} AND d.user_id NOT IN
        ('${revoked.user_id}', '${removed.user_id}') ORDER BY a.last_seen DESC LIMIT 1`);
    runtime.users.delete(deleted.user_id, meta);
    // Blocked users for the status filter: one seen, one with a device count of 0 or more.
    for (const id of [revoked.user_id, removed.user_id]) runtime.users.setBlocked(id, true, meta);

    const figures = expectSameOrders(db);
    // The data holds what the test is about.
    expect(figures.filter((f) => f.devices === 0).length).toBeGreaterThan(0);
    expect(figures.filter((f) => f.last_seen === null).length).toBeGreaterThan(0);
    const seen = figures.map((f) => f.last_seen).filter((s) => s !== null);
    expect(new Set(seen).size).toBeLessThan(seen.length);
    const statuses = db
      .prepare('SELECT SUM(blocked = 1) AS blocked, SUM(confirmed = 0) AS unconfirmed FROM users')
      .get() as { blocked: number; unconfirmed: number };
    expect(statuses.blocked).toBeGreaterThan(0);
    expect(statuses.unconfirmed).toBeGreaterThan(0);

    const scratchDir = join(server.runtime.dataDir, 'tmp');
    const check = replayProjections(server.runtime, {
      scratchDir,
      check: true,
      catalogue: CATALOGUE,
    });
    expect(check.diffs).toEqual([]);
    replayProjections(server.runtime, { scratchDir, check: false, catalogue: CATALOGUE });
    expect(expectSameOrders(db)).toEqual(figures);
    projector.rebuildAll();
    expect(expectSameOrders(db)).toEqual(figures);

    // A database from before user_activity, or rows written without the triggers.
    db.exec('DELETE FROM user_activity');
    db.exec("INSERT INTO user_activity VALUES ('stale', '2026-01-01T00:00:00.000Z')");
    backfillUserActivity(db);
    expect(expectSameOrders(db)).toEqual(figures);
  });
});
