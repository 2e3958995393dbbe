import { createHash, createHmac, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CATALOGUE, verifyLog, type DomainEvent } from '../../../src/log/index.js';
import { replayProjections } from '../../../src/projections/rebuild.js';
import { createPasswordHasher } from '../../../src/security/passwords.js';
import { TYPED_NAME_KEY_PURPOSE } from '../../../src/security/typed-digest.js';
import { lineOf } from '../../../src/web/admin/audit-lines.js';
import { namesOf } from '../../../src/web/admin/audit-names.js';
import { translator } from '../../../src/web/i18n/index.js';
import { filesContaining } from '../../helpers/data-dir.js';
import type { TestServer } from '../../helpers/sync-app.js';
import {
  emailOf,
  eventsOfType,
  login,
  post,
  registerConfirmed,
  startAccountsServer,
} from './helpers.js';

// Issue 12: what a refused sign-in leaves in the data directory. A typed login is kept as
// the account's id when it names one, otherwise as a digest keyed by the secret box, never
// as text; LoginFailed events of older servers (which kept the text) still read, erase and
// replay.

let server: TestServer;
afterEach(async () => server?.close());

const META = { actor: 'anonymous', ip: '10.0.0.9' };
type Target = { key: string; count: number };

function summaryTargets(kind: string): Target[] {
  server.runtime.refusals.flushAll();
  return eventsOfType(server, 'SecurityRefusalsCounted')
    .filter((e) => e.data.kind === kind)
    .flatMap((e) => e.data.targets as Target[]);
}

const keyedDigest = (typed: string) =>
  createHmac('sha256', server.runtime.secrets.deriveKey(TYPED_NAME_KEY_PURPOSE))
    .update(typed.trim().normalize('NFC').toLowerCase())
    .digest('hex')
    .slice(0, 16);

const userIdOf = (username: string) =>
  server.runtime.db
    .prepare('SELECT id FROM users WHERE username = ?')
    .pluck()
    .get(username) as string;

describe('what a refused sign-in records', () => {
  it('names the account by its id when the login names one, by username or e-mail, and keeps neither text', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    expect((await login(server, 'alice', 'not her password')).statusCode).toBe(401);
    expect(
      (await login(server, ` ${emailOf('alice').toUpperCase()} `, 'nor this')).statusCode,
    ).toBe(401);
    const targets = summaryTargets('user_login');
    expect(targets).toEqual([{ key: `user:${userIdOf('alice')}`, count: 2 }]);
    const summaries = JSON.stringify(eventsOfType(server, 'SecurityRefusalsCounted'));
    expect(summaries).not.toMatch(/alice/i);
    expect(eventsOfType(server, 'LoginFailed')).toEqual([]);
  });

  it('leaves no trace of a password typed as the login in any file of the data directory', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    const typed = `Hunter2-Secret-${randomBytes(6).toString('hex')}`;
    // Twice, and once with other spacing and case: one target, counted three times.
    for (const login_ of [typed, typed, ` ${typed.toUpperCase()}`])
      expect((await login(server, login_, 'whatever it is')).statusCode).toBe(401);
    const targets = summaryTargets('user_login');
    expect(targets).toEqual([{ key: `typed:${keyedDigest(typed)}`, count: 3 }]);
    // Not the unkeyed digest older servers kept, which a dictionary would reverse.
    const plain = createHash('sha256').update(typed.toLowerCase()).digest('hex');
    expect(targets[0]!.key).not.toContain(plain.slice(0, 8));

    server.runtime.db.pragma('wal_checkpoint(TRUNCATE)');
    const needles = [typed, typed.toLowerCase(), typed.toUpperCase(), `typed:${plain.slice(0, 8)}`];
    expect(filesContaining(server.dir, needles)).toEqual([]);
  });

  it('keeps an address typed at the forgot-password form that names no account only by digest', async () => {
    server = await startAccountsServer();
    const typed = `Not-An-Address-${randomBytes(6).toString('hex')}`;
    for (let i = 0; i < 2; i++)
      expect((await post(server, '/api/v1/auth/forgot', { email: typed })).statusCode).toBe(200);
    const digest = keyedDigest(typed);
    const record = {
      stream: `login/typed:${digest}`,
      data: { typed: digest, reason: 'unknown_email' },
    };
    expect(eventsOfType(server, 'PasswordResetRefused')).toEqual([record, record]);
    server.runtime.db.pragma('wal_checkpoint(TRUNCATE)');
    expect(filesContaining(server.dir, [typed, typed.toLowerCase()])).toEqual([]);
  });

  it('names a known admin by name, and anything else typed at the admin sign-in only by digest', async () => {
    const password_hash = await createPasswordHasher().hash('the admin password');
    server = await startAccountsServer({
      settings: { admin: [{ username: 'root', password_hash }] },
    });
    const admins = server.runtime.adminSessions;
    expect(await admins.login('root', 'wrong password', '', META)).toBeUndefined();
    const typed = `Admin-Pass-${randomBytes(6).toString('hex')}`;
    expect(await admins.login(typed, 'wrong password', '', META)).toBeUndefined();
    const keys = summaryTargets('admin_login').map((t) => t.key);
    expect(keys.sort()).toEqual(['admin:root', `typed:${keyedDigest(typed)}`]);
    expect(eventsOfType(server, 'AdminLoginFailed')).toEqual([]);
    server.runtime.db.pragma('wal_checkpoint(TRUNCATE)');
    expect(filesContaining(server.dir, [typed, typed.toLowerCase()])).toEqual([]);
  });
});

/** A log as an older server left it: one LoginFailed per refused sign-in, text and all. */
function appendOldRefusals(userId: string) {
  const { db, store, projector, clock } = server.runtime;
  // Appended and projected in one transaction, as the command handler does.
  const append = (stream: string, event: DomainEvent) =>
    db.transaction(() =>
      projector.apply(store.append([{ stream, events: [event] }], META, clock.now())),
    )();
  append('login/alice', {
    type: 'LoginFailed',
    data: { login: 'alice', userId, reason: 'wrong_password' },
  });
  append(`login/${emailOf('alice')}`, {
    type: 'LoginFailed',
    data: { login: emailOf('alice'), reason: 'unknown_login' },
  });
  // A text that is neither her name nor her address, recorded as hers: matched by id.
  append('login/alice-typo-7f3', {
    type: 'LoginFailed',
    data: { login: 'alice-typo-7f3', userId, reason: 'wrong_password' },
  });
  append('login/someone-else-9c1', {
    type: 'LoginFailed',
    data: { login: 'someone-else-9c1', reason: 'unknown_login' },
  });
  append('admin/root', {
    type: 'AdminLoginFailed',
    data: { login: 'root', reason: 'wrong_password' },
  });
}

describe('LoginFailed events of older servers', () => {
  it('read on the audit page, old and new shapes alike, without what was typed', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    const userId = userIdOf('alice');
    appendOldRefusals(userId);
    await login(server, 'alice', 'wrong password');
    await login(server, 'Typed-Secret-31337', 'wrong password');
    server.runtime.refusals.flushAll();

    const t = translator('en');
    const ctx = { t, locale: 'en' as const, names: namesOf(server.runtime.db, t) };
    const rows = server.runtime.db
      .prepare(
        "SELECT type, data FROM events WHERE type IN ('LoginFailed', 'AdminLoginFailed', 'SecurityRefusalsCounted') ORDER BY seq",
      )
      .all() as { type: string; data: string }[];
    const lines = rows.map((r) => lineOf(r.type, JSON.parse(r.data), ctx)!);
    const texts = lines.map((l) => [l.text, ...l.details].join(' | '));
    expect(texts.slice(0, 5)).toEqual([
      'Sign-in refused for alice: wrong password',
      'Sign-in refused for a name no account has: unknown name',
      'Sign-in refused for alice: wrong password',
      'Sign-in refused for a name no account has: unknown name',
      'Admin sign-in refused: wrong password',
    ]);
    expect(texts[5]).toContain('Aimed at: ');
    expect(texts[5]).toContain('alice (1)');
    expect(texts[5]).toMatch(/a typed name \(#[0-9a-f]{16}\) \(1\)/);
    expect(texts.join('\n')).not.toMatch(/typo|someone-else|Typed-Secret/i);
  });

  it("are erased with the user they name, by id or by the user's name and address", async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    const userId = userIdOf('alice');
    appendOldRefusals(userId);
    await login(server, 'alice', 'wrong password');
    server.runtime.refusals.flushAll();

    const deletion = server.runtime.users.delete(userId, { actor: 'test' });
    expect(deletion.walTruncated).toBe(true);
    const left = eventsOfType(server, 'LoginFailed').map((e) => e.data);
    expect(left).toEqual([
      { redacted: true, by: expect.any(Number) },
      { redacted: true, by: expect.any(Number) },
      { redacted: true, by: expect.any(Number) },
      { login: 'someone-else-9c1', reason: 'unknown_login' },
    ]);
    // Their data is gone from every page of the database and the WAL. What was typed also
    // named these events' streams (`login/<text>`), which the chain covers and erasure
    // cannot touch: the reason new refusals are counted, never appended one by one.
    const data = server.runtime.db.prepare('SELECT group_concat(data) FROM events').pluck().get();
    expect(data).not.toMatch(/alice-typo-7f3|alice@example\.test/);
    const streams = server.runtime.db
      .prepare("SELECT DISTINCT stream FROM events WHERE stream LIKE 'login/%'")
      .pluck()
      .all();
    expect(streams.sort()).toEqual(
      [
        'login/alice',
        `login/${emailOf('alice')}`,
        'login/alice-typo-7f3',
        'login/someone-else-9c1',
      ].sort(),
    );
    expect(verifyLog(server.runtime.db).problems).toEqual([]);
  });

  it('replay to the same projections beside the new summaries', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    appendOldRefusals(userIdOf('alice'));
    await login(server, 'alice', 'wrong password');
    await login(server, 'nobody-at-all', 'wrong password');
    server.runtime.refusals.flushAll();
    const live = {
      db: server.runtime.db,
      store: server.runtime.store,
      projector: server.runtime.projector,
    };
    const checked = replayProjections(live, {
      scratchDir: server.dir,
      check: true,
      catalogue: CATALOGUE,
    });
    expect(checked.diffs).toEqual([]);
    expect(verifyLog(server.runtime.db).problems).toEqual([]);
  });
});
