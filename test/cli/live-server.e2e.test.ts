import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureBuilt,
  jsonLines,
  makeTempDir,
  removeTempDirs,
  runCli,
  startServer,
  stopServers,
  writeSecret,
} from './helpers.js';

beforeAll(() => ensureBuilt(), 180_000);

afterEach(async () => {
  await stopServers();
  removeTempDirs();
});

describe('operator commands against a running server', () => {
  it('add, list, block, audit, verify and replay while the server runs, then a clean stop', async () => {
    const dir = makeTempDir();
    const dataDir = join(dir, 'data');
    const server = await startServer(dataDir, writeSecret(dir, 'admin-pass', 'admin password 1'));

    const added = await runCli(
      [
        'user',
        'add',
        '--data',
        dataDir,
        '--username',
        'alice',
        '--email',
        'Alice@Example.com',
        '--confirmed',
        '--json',
        '--password-stdin',
      ],
      { input: 'a long enough password\n' },
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const { user_id: userId } = JSON.parse(added.stdout) as { user_id: string };
    expect(added.stdout).toBe(`{"user_id":"${userId}"}\n`);

    // The server sees the user the CLI wrote: its own projection read.
    const health = await fetch(`http://127.0.0.1:${server.port}/api/v1/health`);
    expect(health.status).toBe(200);

    const audit = await runCli(['audit', '--data', dataDir, '--json']);
    expect(audit.code).toBe(0);
    const events = jsonLines(audit.stdout);
    const registered = events.find((e) => e.type === 'UserRegistered');
    expect(registered).toMatchObject({
      seq: 1,
      stream: `user/${userId}`,
      data: {
        userId,
        username: 'alice',
        email: 'alice@example.com',
        confirmed: true,
        passwordHash: '<redacted>',
      },
      meta: { actor: 'cli' },
    });
    expect(Object.keys(registered!).sort()).toEqual([
      'at',
      'data',
      'meta',
      'seq',
      'stream',
      'type',
    ]);
    // The real hash is in the database and nowhere in the audit output.
    const db = new Database(join(dataDir, 'server.db'), { readonly: true });
    const hash = db
      .prepare('SELECT password_hash FROM users WHERE id = ?')
      .pluck()
      .get(userId) as string;
    db.close();
    expect(hash).toMatch(/^\$argon2id\$/);
    expect(audit.stdout).not.toContain(hash);
    expect(audit.stdout).not.toContain('$argon2');

    const list = await runCli(['user', 'list', '--data', dataDir, '--json']);
    expect(list.code).toBe(0);
    expect(jsonLines(list.stdout)).toEqual([
      {
        id: userId,
        username: 'alice',
        email: 'alice@example.com',
        confirmed: true,
        blocked: false,
        created_at: registered!.at,
      },
    ]);

    const block = await runCli(['user', 'block', '--data', dataDir, '--username', 'alice']);
    expect(block.code).toBe(0);
    expect(block.stdout).toContain('blocked user alice');
    const blocked = await runCli(['audit', '--data', dataDir, '--type', 'UserBlocked', '--json']);
    expect(blocked.code).toBe(0);
    expect(jsonLines(blocked.stdout)).toEqual([
      expect.objectContaining({
        seq: 2,
        type: 'UserBlocked',
        stream: `user/${userId}`,
        data: { userId },
      }),
    ]);
    const listed = jsonLines((await runCli(['user', 'list', '--data', dataDir, '--json'])).stdout);
    expect(listed[0]).toMatchObject({ username: 'alice', blocked: true });

    const verify = await runCli(['verify', '--data', dataDir]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toBe('2 events, chain intact, integrity ok (log format 2)\n');

    const check = await runCli(['replay', '--data', dataDir, '--check']);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('projections match the log up to seq 2');
    expect(check.stderr).toMatch(/replayed 2 events in [\d.]+ s \(\d+ events\/s\)/);

    // A full replay swaps tables under the running server, which keeps serving.
    const replay = await runCli(['replay', '--data', dataDir]);
    expect(replay.code).toBe(0);
    expect((await fetch(`http://127.0.0.1:${server.port}/api/v1/health`)).status).toBe(200);
    const afterReplay = jsonLines(
      (await runCli(['user', 'list', '--data', dataDir, '--json'])).stdout,
    );
    expect(afterReplay).toEqual(listed);

    expect(await server.stop('SIGTERM')).toBe(0);
    expect(server.output()).toContain('stopped');
  }, 120_000);
});
