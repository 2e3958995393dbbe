import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { CATALOGUE, type Sqlite } from '../../src/log/index.js';
import { adminStats, STATS_SQL, type AdminStats } from '../../src/projections/admin-stats.js';
import { replayProjections } from '../../src/projections/rebuild.js';
import { fileBody } from '../http/blob-fixtures.js';
import {
  addUser,
  pair,
  pushAccepted,
  textOp,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';
import { adminBrowser, startAdminServer } from './admin-rig.js';

// The dashboard's figures come from counters the projections keep (counters.ts) or from
// index-only counts: they must equal a direct count of the tables and the log, live and
// after a rebuild from the log, and no statement may scan events or vault_ops.

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const count = (db: Sqlite, sql: string, ...params: unknown[]) =>
  (db
    .prepare(sql)
    .pluck()
    .get(...params) as number | null) ?? 0;

/** The same figures, counted the slow way. */
function directStats(db: Sqlite, now: Date): AdminStats {
  const since = new Date(now.getTime() - 24 * HOUR).toISOString();
  const blobs = count(db, 'SELECT COUNT(*) FROM blobs');
  const referenced = count(
    db,
    'SELECT COUNT(*) FROM blobs WHERE sha256 IN (SELECT sha256 FROM blob_refs)',
  );
  return {
    users: count(db, 'SELECT COUNT(*) FROM users'),
    activeUsers: count(db, 'SELECT COUNT(*) FROM users WHERE blocked = 0 AND confirmed = 1'),
    blockedUsers: count(db, 'SELECT COUNT(*) FROM users WHERE blocked = 1'),
    unconfirmedUsers: count(db, 'SELECT COUNT(*) FROM users WHERE confirmed = 0'),
    activeDevices: count(db, 'SELECT COUNT(*) FROM devices WHERE revoked_at IS NULL'),
    revokedDevices: count(db, 'SELECT COUNT(*) FROM devices WHERE revoked_at IS NOT NULL'),
    vaults: count(db, 'SELECT COUNT(*) FROM vaults'),
    operations: count(db, 'SELECT COUNT(*) FROM vault_ops'),
    operations24h: count(
      db,
      "SELECT COUNT(*) FROM events WHERE type = 'OperationPushed' AND at >= ?",
      since,
    ),
    blobs,
    blobBytes: count(db, 'SELECT COALESCE(SUM(size), 0) FROM blobs'),
    blobReferences: count(db, 'SELECT COUNT(*) FROM blob_refs'),
    orphanBlobs: blobs - referenced,
    expiredSessions: count(
      db,
      'SELECT COUNT(*) FROM sessions WHERE expires_at <= ?',
      now.toISOString(),
    ),
    expiredEmailTokens: count(
      db,
      'SELECT COUNT(*) FROM email_tokens WHERE expires_at <= ?',
      now.toISOString(),
    ),
    auditEvents: count(
      db,
      "SELECT COUNT(*) FROM events WHERE type NOT IN ('OperationPushed', 'PushAnswered')",
    ),
    lastSyncActivity:
      (db.prepare('SELECT MAX(last_activity) FROM vaults').pluck().get() as string | null) ?? '',
    lastCleanupAt:
      (db.prepare("SELECT MAX(at) FROM events WHERE type = 'CleanupRan'").pluck().get() as
        string | null) ?? '',
  };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function uploadBlob(server: TestServer, device: Device, content: Buffer) {
  const body = fileBody(content);
  const res = await server.app.inject({
    method: 'POST',
    url: '/api/v1/blobs/',
    headers: { ...body.headers, authorization: `Bearer ${device.token}` },
    payload: body.payload,
  });
  expect(res.statusCode, res.body).toBe(200);
  return sha256(content);
}

/**
 * Users of every status, devices paired and revoked, ops pushed across two days (some in
 * the boundary minute of the 24-hour window), retried pushes, shared and private files, a
 * login that expired, a deleted user whose ops and files go, and a cleanup.
 */
async function mixedHistory() {
  const clock = createManualClock('2026-12-01T08:00:00.000Z');
  const server = await startAdminServer({ clock });
  const rt = server.runtime;
  const meta = { actor: 'test' };
  const alice = await addUser(server, 'alice');
  const bob = await addUser(server, 'bob');
  const carol = await addUser(server, 'carol');
  await addUser(server, 'dave', false);
  rt.users.setBlocked(carol, true, meta);
  const laptop = await pair(server, 'alice', 'notes', 'laptop');
  const phone = await pair(server, 'alice', 'work', 'phone');
  const desk = await pair(server, 'bob', 'notes', 'desk');
  const old = await pair(server, 'bob', 'notes', 'old');
  rt.devices.revoke(old.deviceId, bob, 'user', meta);
  let n = 0;
  const pushSome = async (device: Device, ops: number) => {
    const batch = Array.from({ length: ops }, () => {
      n += 1;
      return textOp(`op-${n}`, `file-${n}.md`, `text ${n}`);
    });
    await pushAccepted(server, device, batch);
  };
  await pushSome(laptop, 5);
  await pushSome(desk, 3);
  const shared = randomBytes(300);
  await uploadBlob(server, laptop, shared);
  await uploadBlob(server, desk, shared);
  await uploadBlob(server, desk, randomBytes(120));
  clock.advance(20 * HOUR);
  await pushSome(phone, 4);
  clock.advance(2 * HOUR + 59 * MINUTE + 10_000);
  const login = await server.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username: 'alice', password: 'correct horse battery' },
  });
  expect(login.statusCode, login.body).toBe(200);
  // 2026-12-02T07:59:10 and :40: the minute that the window below cuts in two.
  clock.advance(HOUR);
  await pushSome(laptop, 2);
  clock.advance(30_000);
  await pushSome(desk, 2);
  clock.advance(MINUTE);
  await pushSome(phone, 1);
  await uploadBlob(server, phone, randomBytes(50));
  clock.advance(12 * HOUR);
  await pushSome(desk, 6);
  expect(rt.users.delete(bob, meta)).toBeDefined();
  clock.advance(11 * HOUR);
  expect((await rt.cleanup.run(clock.now())).sessions).toBe(1);
  clock.advance(MINUTE);
  await pushSome(laptop, 3);
  clock.advance(MINUTE);
  await pushSome(phone, 1);
  // 24 hours before this is 07:59:25 on the 2nd.
  clock.set('2026-12-03T07:59:25.000Z');
  return { server, clock, alice };
}

describe('dashboard counters', () => {
  it('equal a direct count after a mixed history, and after a rebuild from the log', async () => {
    const { server, clock } = await mixedHistory();
    const rt = server.runtime;
    const now = clock.now();
    const live = adminStats(rt.db, now);
    expect(live).toEqual(directStats(rt.db, now));
    // The history must exercise what it claims to: the window cuts a minute in two.
    const cutMinute = count(
      rt.db,
      "SELECT COUNT(*) FROM events WHERE type = 'OperationPushed' AND substr(at, 1, 16) = ?",
      new Date(now.getTime() - 24 * HOUR).toISOString().slice(0, 16),
    );
    expect(cutMinute).toBe(4);
    expect(live).toMatchObject({
      users: 3,
      blockedUsers: 1,
      unconfirmedUsers: 1,
      activeDevices: 2,
      revokedDevices: 0,
      operations: 16,
      // Bob's six are gone from the vaults but not from the log's last 24 hours.
      operations24h: 2 + 1 + 6 + 3 + 1,
      blobs: 2,
      blobReferences: 2,
      orphanBlobs: 0,
    });

    const scratchDir = join(rt.dataDir, 'tmp');
    const check = replayProjections(rt, { scratchDir, check: true, catalogue: CATALOGUE });
    expect(check.diffs).toEqual([]);
    replayProjections(rt, { scratchDir, check: false, catalogue: CATALOGUE });
    expect(adminStats(rt.db, now)).toEqual(live);
    rt.projector.rebuildAll();
    expect(adminStats(rt.db, now)).toEqual(live);
  });

  it('are what /admin/api/stats and the dashboard show', async () => {
    const { server, clock } = await mixedHistory();
    const admin = await adminBrowser(server);
    const stats = adminStats(server.runtime.db, clock.now());
    const json = (await admin.get('/admin/api/stats')).json<Record<string, unknown>>();
    expect(json).toMatchObject({
      users: stats.users,
      operations: stats.operations,
      operations_24h: stats.operations24h,
      orphan_blobs: stats.orphanBlobs,
      audit_events: stats.auditEvents,
      blob_bytes: stats.blobBytes,
    });
    const html = (await admin.get('/admin/dashboard')).body;
    expect(html).toContain(`data-stat="operations-24h">${stats.operations24h}<`);
    expect(html).toContain(`data-stat="users">${stats.users}<`);
  });
});

describe('stats query plans', () => {
  it('read a counter, an index or a range of the log by seq: never a scan of events or vault_ops', async () => {
    const { server } = await mixedHistory();
    const db = server.runtime.db;
    db.exec('ANALYZE');
    for (const [name, sql] of Object.entries(STATS_SQL)) {
      const params = (sql.match(/\?/g) ?? []).map(() => '2026-12-02T00:00');
      const plan = (
        db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]
      ).map((r) => r.detail);
      const text = plan.join(' | ');
      expect(text, name).not.toMatch(/SCAN (events|log_events|e|vault_ops)\b/);
      // A scan is only ever of an index that covers the count, or of a one-row counter.
      for (const step of plan.filter((d) => d.startsWith('SCAN'))) {
        expect(step, `${name}: ${text}`).toMatch(/COVERING INDEX|SCAN (vault_totals|blob_totals)/);
      }
      expect(text, name).toMatch(/INDEX|PRIMARY KEY|vault_totals|blob_totals|^SEARCH events$/);
    }
  });
});
