import { afterEach, describe, expect, it } from 'vitest';
import { CATALOGUE, verifyLog } from '../../src/log/index.js';
import { PROJECTIONS } from '../../src/projections/index.js';
import { replayProjections } from '../../src/projections/rebuild.js';
import { filesContaining } from '../helpers/data-dir.js';
import { dumpTables } from '../helpers/db-dump.js';
import {
  pair,
  PASSWORD,
  push,
  pullAll,
  pushAccepted,
  startTestServer,
  textOp,
  type TestServer,
} from '../helpers/sync-app.js';

// Distinctive enough that a byte match anywhere can only be the user's content.
const USERNAME = 'Zephyrine-Quillfeather';
const EMAIL = 'zephyrine.quillfeather@erasure.example';
const MARKER = 'MARKER-9c41e7-secret-note-body';
const DEVICE_NAME = 'zephyrine-private-laptop';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const projectionTables = PROJECTIONS.flatMap((p) => p.tables);

async function seed(s: TestServer) {
  const users = s.runtime.users;
  const victim = await users.register(
    { username: USERNAME, email: EMAIL, password: PASSWORD, confirmed: true },
    'operator',
    { actor: 'test' },
  );
  await users.register(
    { username: 'bystander', email: 'bystander@example.test', password: PASSWORD, confirmed: true },
    'operator',
    { actor: 'test' },
  );
  const device = await pair(s, USERNAME, 'vault-z', DEVICE_NAME);
  const other = await pair(s, 'bystander', 'vault-b');
  await pushAccepted(s, device, [
    textOp('op-1', `notes/${MARKER}.md`, `first draft ${MARKER}`),
    textOp('op-2', 'notes/diary.md', `dear diary ${MARKER}`),
  ]);
  await pushAccepted(s, other, [textOp('op-b1', 'notes/public.md', 'nothing secret')]);
  // A push answer kept for retries, and a reset mail waiting in the outbox.
  const answered = await push(s, device, [textOp('op-k', 'notes/k.md', `kept ${MARKER}`)], {
    idempotency_key: 'retry-key-1',
  });
  expect(answered.statusCode).toBe(200);
  s.runtime.passwordResets.requestPasswordReset(EMAIL, { actor: 'test' });
  // A first sync plan and a last-seen row: side tables outside the log.
  await pullAll(s, device);
  await pushAccepted(s, device, [
    textOp('op-3', 'notes/diary.md', `second entry ${MARKER}`, { op_type: 'update' }),
    textOp('op-4', `notes/${MARKER}.md`, '', { op_type: 'delete' }),
  ]);
  return { victim, device };
}

describe('deleting a user', () => {
  it('erases their content from every file of the data directory, and the log still verifies', async () => {
    server = await startTestServer();
    const s = server;
    const { victim } = await seed(s);
    const needles = [USERNAME, EMAIL, MARKER, DEVICE_NAME];
    s.runtime.db.pragma('wal_checkpoint(PASSIVE)');
    expect(filesContaining(s.dir, needles).length).toBeGreaterThan(0);
    expect(s.runtime.db.prepare('SELECT count(*) FROM mail_outbox').pluck().get()).toBe(1);
    expect(s.runtime.db.prepare('SELECT count(*) FROM push_answers').pluck().get()).toBe(1);

    const deletion = s.runtime.users.delete(victim, { actor: 'test' });
    expect(deletion.walTruncated).toBe(true);
    expect(s.runtime.db.prepare('SELECT count(*) FROM mail_outbox').pluck().get()).toBe(0);
    expect(s.runtime.db.prepare('SELECT count(*) FROM push_answers').pluck().get()).toBe(0);
    expect(deletion.redactedEvents).toBeGreaterThanOrEqual(6);

    expect(filesContaining(s.dir, needles)).toEqual([]);
    expect(verifyLog(s.runtime.db)).toMatchObject({ problems: [], integrity: [] });
    const replayOptions = { catalogue: CATALOGUE, scratchDir: s.dir };
    expect(replayProjections(s.runtime, { ...replayOptions, check: true }).diffs).toEqual([]);

    // A full rebuild from the redacted log gives exactly the live rows.
    const before = dumpTables(s.runtime.db, projectionTables);
    replayProjections(s.runtime, { ...replayOptions, check: false });
    expect(dumpTables(s.runtime.db, projectionTables)).toEqual(before);
    expect(filesContaining(s.dir, needles)).toEqual([]);
  });

  it("drops every row of the user and none of anyone else's", async () => {
    server = await startTestServer();
    const s = server;
    const { victim, device } = await seed(s);
    const db = s.runtime.db;
    const count = (sql: string, ...args: unknown[]) =>
      db
        .prepare(sql)
        .pluck()
        .get(...args) as number;
    const ofDevice = (table: string) =>
      count(`SELECT count(*) FROM ${table} WHERE device_id = ?`, device.deviceId);
    expect([ofDevice('first_syncs'), ofDevice('device_activity')]).toEqual([1, 1]);
    expect(ofDevice('first_sync_ops')).toBeGreaterThan(0);
    // A failed sign-in of each: the victim's budget row goes with them, the bystander's stays.
    for (const username of [USERNAME, 'bystander']) {
      const res = await s.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username, password: 'not the password' },
      });
      expect(res.statusCode).toBe(401);
    }
    const failures = (userId: string) =>
      count('SELECT count(*) FROM password_failures WHERE account = ?', `user:${userId}`);
    const bystanderId = db
      .prepare("SELECT id FROM users WHERE username = 'bystander'")
      .pluck()
      .get() as string;
    expect(failures(victim)).toBe(1);
    s.runtime.users.delete(victim, { actor: 'test' });
    expect(failures(victim)).toBe(0);
    expect(failures(bystanderId)).toBe(1);
    expect(count('SELECT count(*) FROM users WHERE id = ?', victim)).toBe(0);
    expect(count('SELECT count(*) FROM devices WHERE user_id = ?', victim)).toBe(0);
    expect(count('SELECT count(*) FROM vaults WHERE user_id = ?', victim)).toBe(0);
    expect(count('SELECT count(*) FROM sessions WHERE user_id = ?', victim)).toBe(0);
    expect(count('SELECT count(*) FROM email_tokens WHERE user_id = ?', victim)).toBe(0);
    for (const table of ['first_syncs', 'first_sync_ops', 'device_activity']) {
      expect(ofDevice(table)).toBe(0);
    }
    for (const table of ['vault_ops', 'entity_heads', 'tombstones', 'superseded_ops']) {
      expect(
        count(`SELECT count(*) FROM ${table} WHERE vault NOT IN (SELECT id FROM vaults)`),
      ).toBe(0);
    }
    expect(count('SELECT count(*) FROM users')).toBe(1);
    expect(count('SELECT count(*) FROM vault_ops')).toBe(1);
    // The username is free again.
    await s.runtime.users.register(
      { username: USERNAME, email: EMAIL, password: PASSWORD, confirmed: true },
      'operator',
      { actor: 'test' },
    );
  });

  it('refuses an unknown user and a second deletion', async () => {
    server = await startTestServer();
    const s = server;
    const { victim } = await seed(s);
    expect(() => s.runtime.users.delete('no-such-user', { actor: 'test' })).toThrow(/not found/);
    s.runtime.users.delete(victim, { actor: 'test' });
    expect(() => s.runtime.users.delete(victim, { actor: 'test' })).toThrow(/not found/);
  });
});
