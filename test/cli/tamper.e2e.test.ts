import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addUser,
  ensureBuilt,
  makeDataDir,
  makeTempDir,
  removeTempDirs,
  runCli,
} from './helpers.js';

// One seeded data directory, copied for each test: seq 1-3 register, seq 4 blocks bob.
let template: string;
let bobId: string;

beforeAll(async () => {
  ensureBuilt();
  template = makeDataDir();
  await addUser(template, 'alice');
  bobId = await addUser(template, 'bob');
  await addUser(template, 'carol');
  const blocked = await runCli(['user', 'block', '--data', template, '--id', bobId]);
  expect(blocked.code).toBe(0);
}, 180_000);

// The template and every copy live in temp dirs.
afterAll(() => removeTempDirs());

function freshCopy(): string {
  const dir = join(makeTempDir(), 'data');
  cpSync(template, dir, { recursive: true });
  return dir;
}

/** Changes the stored database by hand, as an attacker or a broken disk would. */
function tamper(dir: string, sql: string, ...params: unknown[]) {
  const db = new Database(join(dir, 'server.db'));
  db.prepare(sql).run(...params);
  db.close();
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('verify', () => {
  it('passes an untouched log', async () => {
    const result = await runCli(['verify', '--data', freshCopy()]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('4 events, chain intact, integrity ok (log format 2)\n');
  });

  it('names the seq whose data was altered', async () => {
    const dir = freshCopy();
    tamper(
      dir,
      "UPDATE events SET data = replace(data, 'bob@example.com', 'mallory@evil.test') WHERE seq = 2",
    );
    const result = await runCli(['verify', '--data', dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('first bad seq 2');
    expect(result.stdout).toContain('seq 2: data does not match its data_hash');
    expect(result.stdout).not.toMatch(/seq [134]:/);
  });

  it('still catches altered data whose data_hash was rewritten to match (the chain)', async () => {
    const dir = freshCopy();
    const db = new Database(join(dir, 'server.db'));
    const data = (
      db.prepare('SELECT data FROM events WHERE seq = 3').pluck().get() as string
    ).replace('"confirmed":true', '"confirmed":false');
    db.prepare('UPDATE events SET data = ?, data_hash = ? WHERE seq = 3').run(data, sha256(data));
    db.close();
    const result = await runCli(['verify', '--data', dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('seq 3: hash chain broken');
    expect(result.stdout).not.toContain('data_hash');
  });

  it('refuses a data directory without a database, and creates none', async () => {
    const dir = join(makeTempDir(), 'nothing-here');
    const result = await runCli(['verify', '--data', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: no server database at .*server\.db/);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('replay', () => {
  it('--check passes an untouched database and leaves no scratch file', async () => {
    const dir = freshCopy();
    const result = await runCli(['replay', '--data', dir, '--check']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('projections match the log up to seq 4\n');
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('--check names the users table after a row is deleted; replay repairs it', async () => {
    const dir = freshCopy();
    const reader = new Database(join(dir, 'server.db'), { readonly: true });
    const bobHash = reader
      .prepare('SELECT password_hash FROM users WHERE id = ?')
      .pluck()
      .get(bobId) as string;
    reader.close();
    tamper(dir, 'DELETE FROM users WHERE id = ?', bobId);

    const check = await runCli(['replay', '--data', dir, '--check']);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain(
      'users: 1 row(s) the log produces are missing or different in the live table',
    );
    expect(check.stdout).toContain(`+ rebuilt {"id":"${bobId}"`);
    // The diff shows that a secret column differs, never its value.
    expect(check.stdout).toContain('"password_hash":"<redacted>"');
    expect(check.stdout).not.toContain(bobHash);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);

    const repair = await runCli(['replay', '--data', dir]);
    expect(repair.code).toBe(0);
    expect(repair.stdout).toBe('projections rebuilt up to seq 4\n');
    expect(repair.stderr).toMatch(/replayed 4 events in [\d.]+ s \(\d+ events\/s\)/);

    const again = await runCli(['replay', '--data', dir, '--check']);
    expect(again.code).toBe(0);
    const list = await runCli(['user', 'list', '--data', dir, '--json']);
    expect(list.stdout).toContain(`"id":"${bobId}","username":"bob"`);
    expect(list.stdout).toContain('"blocked":true');
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('--check reports a live row the log never produced', async () => {
    const dir = freshCopy();
    tamper(dir, 'UPDATE users SET blocked = 0 WHERE id = ?', bobId);
    const check = await runCli(['replay', '--data', dir, '--check']);
    expect(check.code).toBe(1);
    expect(check.stdout).toContain('1 live row(s) the log does not produce');
    expect(check.stdout).toMatch(/- live {4}\{"id":"[^"]+","username":"bob".*"blocked":0/);
  });

  it('refuses to rebuild from a log that fails verify, unless --force', async () => {
    const dir = freshCopy();
    const db = new Database(join(dir, 'server.db'));
    // carol's registration re-chained by hand: she would come back unconfirmed.
    const data = (
      db.prepare('SELECT data FROM events WHERE seq = 3').pluck().get() as string
    ).replace('"confirmed":true', '"confirmed":false');
    db.prepare('UPDATE log_events SET data = ?, data_hash = unhex(?) WHERE seq = 3').run(
      data,
      sha256(data),
    );
    db.close();
    for (const args of [[], ['--check']]) {
      const refused = await runCli(['replay', '--data', dir, ...args]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('the log fails verify (seq 3: hash chain broken)');
      expect(refused.stderr).toContain('--force');
      expect(refused.stderr).not.toContain('replayed');
      expect(refused.stdout).toBe('');
    }
    const listed = await runCli(['user', 'list', '--data', dir, '--json']);
    expect(listed.stdout).toMatch(/"username":"carol"[^\n]*"confirmed":true/);

    const forced = await runCli(['replay', '--data', dir, '--force']);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toBe('projections rebuilt up to seq 4\n');
    const rebuilt = await runCli(['user', 'list', '--data', dir, '--json']);
    expect(rebuilt.stdout).toMatch(/"username":"carol"[^\n]*"confirmed":false/);
  });
});
