import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addUser,
  BIN,
  ensureBuilt,
  jsonLines,
  makeDataDir,
  removeTempDirs,
  runCli,
} from './helpers.js';

// Seeded once: 1-3 register alice, bob, carol; 4 blocks bob; 5 unblocks bob; 6 blocks alice.
let dataDir: string;
const ids: Record<string, string> = {};
let all: Record<string, unknown>[];

beforeAll(async () => {
  ensureBuilt();
  dataDir = makeDataDir();
  for (const name of ['alice', 'bob', 'carol']) ids[name] = await addUser(dataDir, name);
  for (const [verb, name] of [
    ['block', 'bob'],
    ['unblock', 'bob'],
    ['block', 'alice'],
  ] as const) {
    const result = await runCli(['user', verb, '--data', dataDir, '--username', name]);
    expect(result.code).toBe(0);
  }
  all = jsonLines((await runCli(['audit', '--data', dataDir, '--json'])).stdout);
}, 180_000);

afterAll(() => removeTempDirs());

const auditSeqs = async (...args: string[]) => {
  const result = await runCli(['audit', '--data', dataDir, '--json', ...args]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return jsonLines(result.stdout).map((e) => e.seq);
};

describe('audit', () => {
  it('shows the whole log in order, with every password hash redacted', async () => {
    expect(all.map((e) => [e.seq, e.type])).toEqual([
      [1, 'UserRegistered'],
      [2, 'UserRegistered'],
      [3, 'UserRegistered'],
      [4, 'UserBlocked'],
      [5, 'UserUnblocked'],
      [6, 'UserBlocked'],
    ]);
    for (const e of all.slice(0, 3)) {
      expect((e.data as { passwordHash: string }).passwordHash).toBe('<redacted>');
    }
    expect(JSON.stringify(all)).not.toContain('$argon2');
  });

  it('filters by one or several types', async () => {
    expect(await auditSeqs('--type', 'UserBlocked')).toEqual([4, 6]);
    expect(await auditSeqs('--type', 'UserBlocked,UserUnblocked')).toEqual([4, 5, 6]);
  });

  it('filters by stream and by user', async () => {
    expect(await auditSeqs('--stream', `user/${ids.bob}`)).toEqual([2, 4, 5]);
    expect(await auditSeqs('--user', ids.alice!)).toEqual([1, 6]);
    expect(await auditSeqs('--user', 'nobody')).toEqual([]);
  });

  it('pages with --since-seq and --limit', async () => {
    expect(await auditSeqs('--since-seq', '3')).toEqual([4, 5, 6]);
    expect(await auditSeqs('--limit', '2')).toEqual([1, 2]);
    expect(await auditSeqs('--since-seq', '2', '--limit', '2')).toEqual([3, 4]);
    expect(await auditSeqs('--user', ids.bob!, '--since-seq', '2', '--limit', '1')).toEqual([4]);
  });

  it('bounds by time: --since inclusive, --until exclusive', async () => {
    const third = all[2]!.at as string;
    expect(await auditSeqs('--since', third, '--until', all[4]!.at as string)).toEqual([3, 4]);
    expect(await auditSeqs('--until', third)).toEqual([1, 2]);
  });

  it('prints a readable table', async () => {
    const result = await runCli(['audit', '--data', dataDir, '--type', 'UserRegistered']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+AT\s+TYPE\s+STREAM\s+ACTOR\s+DATA$/);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(
      new RegExp(
        `^1\\s+\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\s+UserRegistered\\s+user/${ids.alice}\\s+cli\\s+\\{`,
      ),
    );
    expect(lines[1]).toContain('"passwordHash":"<redacted>"');
    expect(result.stdout).not.toContain('$argon2');
  });

  it('rejects unknown types and malformed bounds', async () => {
    const type = await runCli(['audit', '--data', dataDir, '--type', 'UserVanished']);
    expect(type.code).toBe(1);
    expect(type.stderr).toMatch(/unknown event type UserVanished/);
    const since = await runCli(['audit', '--data', dataDir, '--since', 'yesterday-ish']);
    expect(since.code).toBe(1);
    expect(since.stderr).toMatch(/--since must be an ISO-8601 date/);
    const limit = await runCli(['audit', '--data', dataDir, '--limit', '-1']);
    expect(limit.code).toBe(1);
  });

  it('--follow prints events appended later, and stops cleanly on SIGTERM', async () => {
    const child = spawn(
      BIN,
      ['audit', '--data', dataDir, '--json', '--follow', '--since-seq', '5'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    const waitFor = async (predicate: () => boolean) => {
      const deadline = Date.now() + 30_000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out; output so far:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      await waitFor(() => jsonLines(out).length === 1);
      expect(jsonLines(out)[0]).toMatchObject({ seq: 6, type: 'UserBlocked' });
      const daveId = await addUser(dataDir, 'dave');
      await waitFor(() => jsonLines(out).length === 2);
      expect(jsonLines(out)[1]).toMatchObject({
        seq: 7,
        type: 'UserRegistered',
        data: { userId: daveId, passwordHash: '<redacted>' },
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});
