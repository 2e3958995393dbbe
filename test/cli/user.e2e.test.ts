import { existsSync } from 'node:fs';
import { join } from 'node:path';
import argon2 from 'argon2';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  addUser,
  ensureBuilt,
  jsonLines,
  makeDataDir,
  makeTempDir,
  removeTempDirs,
  runCli,
  writeSecret,
} from './helpers.js';

beforeAll(() => ensureBuilt(), 180_000);
afterEach(() => removeTempDirs());

const add = (dataDir: string, username: string, extra: string[], input?: string) =>
  runCli(
    [
      'user',
      'add',
      '--data',
      dataDir,
      '--username',
      username,
      '--email',
      `${username}@example.com`,
      ...extra,
    ],
    { input },
  );

const eventCount = (dataDir: string) => {
  const db = new Database(join(dataDir, 'server.db'), { readonly: true });
  const count = db.prepare('SELECT count(*) FROM events').pluck().get() as number;
  db.close();
  return count;
};

describe('user add', () => {
  it('refuses a taken username, whatever its case, with a message and no event', async () => {
    const dataDir = makeDataDir();
    await addUser(dataDir, 'alice');
    const result = await runCli(
      [
        'user',
        'add',
        '--data',
        dataDir,
        '--username',
        'ALICE',
        '--email',
        'other@example.com',
        '--password-stdin',
      ],
      { input: 'another password\n' },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('error: cannot add user ALICE: username already taken\n');
    expect(result.stdout).toBe('');
    expect(eventCount(dataDir)).toBe(1);
  });

  it('reads the password from --password-file, without its trailing newline', async () => {
    const dataDir = makeDataDir();
    const file = writeSecret(makeTempDir(), 'pw', 'file password 123');
    const result = await add(dataDir, 'bob', ['--password-file', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^added user bob \(id [0-9a-f]+\)\n$/);
    const db = new Database(join(dataDir, 'server.db'), { readonly: true });
    const row = db
      .prepare('SELECT password_hash, confirmed FROM users WHERE username = ?')
      .get('bob') as {
      password_hash: string;
      confirmed: number;
    };
    db.close();
    expect(await argon2.verify(row.password_hash, 'file password 123')).toBe(true);
    expect(row.confirmed).toBe(0);
  });

  it('is an error without a password source, with both, or with a password on argv', async () => {
    const dataDir = makeDataDir();
    const none = await add(dataDir, 'carol', []);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/needs --password-stdin or --password-file/);

    const file = writeSecret(makeTempDir(), 'pw', 'file password 123');
    const both = await add(dataDir, 'carol', ['--password-file', file, '--password-stdin'], 'x\n');
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/only one of --password-stdin and --password-file/);

    const argv = await add(dataDir, 'carol', ['--password', 'on the command line']);
    expect(argv.code).toBe(1);
    expect(argv.stderr).toMatch(/unknown option '--password'/);
    expect(eventCount(dataDir)).toBe(0);
  });

  it('explains invalid input: a short password, a bad e-mail address', async () => {
    const dataDir = makeDataDir();
    const short = await add(dataDir, 'dave', ['--password-stdin'], 'short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toBe('error: cannot add user dave: password: must be at least 8 bytes\n');
    const email = await runCli(
      [
        'user',
        'add',
        '--data',
        dataDir,
        '--username',
        'dave',
        '--email',
        'not-an-address',
        '--password-stdin',
      ],
      { input: 'long enough password\n' },
    );
    expect(email.code).toBe(1);
    expect(email.stderr).toMatch(/^error: cannot add user dave: email: invalid email/);
    expect(eventCount(dataDir)).toBe(0);
  });

  it('refuses a data directory that has no database, and creates nothing', async () => {
    const dataDir = join(makeTempDir(), 'typo');
    const result = await add(dataDir, 'erin', ['--password-stdin'], 'long enough password\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no server database at/);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('user block, unblock and list', () => {
  it('blocks and unblocks by id or username, and says when nothing changed', async () => {
    const dataDir = makeDataDir();
    const id = await addUser(dataDir, 'frank');
    const block = await runCli(['user', 'block', '--data', dataDir, '--id', id]);
    expect(block).toMatchObject({ code: 0, stdout: `blocked user frank (id ${id})\n` });
    const again = await runCli(['user', 'block', '--data', dataDir, '--username', 'Frank']);
    expect(again).toMatchObject({ code: 0, stdout: `user frank (id ${id}) was already blocked\n` });
    const unblock = await runCli(['user', 'unblock', '--data', dataDir, '--username', 'frank']);
    expect(unblock).toMatchObject({ code: 0, stdout: `unblocked user frank (id ${id})\n` });
    // Register, block, unblock: the repeated block appended nothing.
    expect(eventCount(dataDir)).toBe(3);
  });

  it('fails clearly for an unknown user or a missing selector', async () => {
    const dataDir = makeDataDir();
    const byId = await runCli(['user', 'block', '--data', dataDir, '--id', 'nope']);
    expect(byId).toMatchObject({ code: 1, stderr: 'error: no user with id nope\n' });
    const byName = await runCli(['user', 'unblock', '--data', dataDir, '--username', 'nobody']);
    expect(byName).toMatchObject({ code: 1, stderr: 'error: no user named nobody\n' });
    const neither = await runCli(['user', 'block', '--data', dataDir]);
    expect(neither.code).toBe(1);
    expect(neither.stderr).toMatch(/exactly one of --id and --username/);
  });

  it('lists users as a table or JSON lines, never with a password hash', async () => {
    const dataDir = makeDataDir();
    const gina = await addUser(dataDir, 'gina');
    const hal = await addUser(dataDir, 'hal');
    await runCli(['user', 'block', '--data', dataDir, '--id', hal]);

    const json = await runCli(['user', 'list', '--data', dataDir, '--json']);
    expect(json.code).toBe(0);
    const rows = jsonLines(json.stdout);
    expect(rows.map((r) => [r.id, r.username, r.email, r.confirmed, r.blocked])).toEqual([
      [gina, 'gina', 'gina@example.com', true, false],
      [hal, 'hal', 'hal@example.com', true, true],
    ]);
    for (const r of rows) {
      expect(Object.keys(r).sort()).toEqual([
        'blocked',
        'confirmed',
        'created_at',
        'email',
        'id',
        'username',
      ]);
    }

    const table = await runCli(['user', 'list', '--data', dataDir]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+USERNAME\s+EMAIL\s+CONFIRMED\s+BLOCKED\s+CREATED_AT$/);
    expect(lines[2]).toMatch(
      new RegExp(`^${hal}\\s+hal\\s+hal@example\\.com\\s+yes\\s+yes\\s+\\d{4}-`),
    );
    expect(json.stdout + table.stdout).not.toContain('$argon2');
  });
});
