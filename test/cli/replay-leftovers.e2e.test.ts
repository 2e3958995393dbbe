import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CATALOGUE } from '../../src/log/index.js';
import { PROJECTIONS } from '../../src/projections/index.js';
import { rebuildInto } from '../../src/projections/rebuild.js';
import { lockTimer, stageTables } from '../../src/projections/staged-swap.js';
import { openRuntime } from '../../src/runtime.js';
import { removeLeftovers } from '../../src/cli/startup-cleanup.js';
import { scratchNameOf } from '../../src/projections/scratch-files.js';
import {
  BIN,
  ensureBuilt,
  makeDataDir,
  makeTempDir,
  removeTempDirs,
  runCli,
  startServer,
  stopServers,
  writeSecret,
} from './helpers.js';
import { registerUsersIn } from '../projections/live-log.js';

// Issue 9: a replay killed midway leaves nothing behind once the server starts, and two
// replays never run at once on one data directory.

// Above STAGE_MIN_ROWS (20,000): a real replay stages users and audit_index beside the live
// tables, which takes long enough to be caught at it.
const USERS = 30_000;
const BATCH = 1000;

let passFile: string;
/** A data directory holding USERS registrations; tests work on copies of it. */
let seeded: string;
const children: ChildProcess[] = [];

function copyOfSeeded(): string {
  const dir = join(makeTempDir(), 'data');
  cpSync(seeded, dir, { recursive: true });
  return dir;
}

function withDb<T>(dir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(dir, 'server.db'), { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Every replay_* table and index in server.db. */
const replayObjects = (dir: string) =>
  withDb(
    dir,
    (db) =>
      db
        .prepare(
          "SELECT type || ' ' || name FROM sqlite_master WHERE name LIKE 'replay%' ORDER BY 1",
        )
        .pluck()
        .all() as string[],
  );

/** A digest of the live projection tables, to see that nothing moved. */
const projectionDigest = (dir: string) =>
  withDb(dir, (db) => {
    const hash = createHash('sha256');
    for (const table of ['users', 'audit_index', 'projection_checkpoints']) {
      for (const row of db.prepare(`SELECT * FROM ${table} ORDER BY 1`).raw().iterate())
        hash.update(JSON.stringify(row));
    }
    return hash.digest('hex');
  });

const tmpNames = (dir: string) => {
  try {
    return readdirSync(join(dir, 'tmp')).sort();
  } catch {
    return [];
  }
};

/** The scratch name a replay running as `pid` uses (projections/scratch-files.ts). */
/** A live process standing in for a running replay; killed after each test. */
function sleeper(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600_000)'], {
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

/**
 * What a replay killed during its staging leaves in server.db: `replay_new_users` and its
 * indexes, made by the real staging code from a real scratch, and a replaced table's
 * `replay_old_*` with an index, as a replay killed after its swap leaves them.
 */
function leaveStagedTables(dir: string): void {
  const scratchFile = join(makeTempDir(), 'scratch.db');
  const runtime = openRuntime({ dataDir: dir });
  try {
    rebuildInto(scratchFile, runtime.db, {
      projections: PROJECTIONS,
      catalogue: CATALOGUE,
    }).close();
    runtime.db.prepare('ATTACH DATABASE ? AS replay_scratch').run(scratchFile);
    const staged = stageTables(runtime.db, 'replay_scratch', ['users'], lockTimer(runtime.db));
    runtime.db.exec('DETACH DATABASE replay_scratch');
    expect(staged.map((s) => s.table)).toEqual(['users']);
    runtime.db.exec('CREATE TABLE replay_old_x (id TEXT PRIMARY KEY, v INTEGER)');
    runtime.db.exec('CREATE INDEX replay_old_x_v ON replay_old_x (v)');
    runtime.db.exec("INSERT INTO replay_old_x VALUES ('a', 1), ('b', 2)");
  } finally {
    runtime.close();
  }
}

/** The fields of the server's 'start-up check passed' log line. */
function startupLine(output: string): { leftovers: Record<string, number> } {
  const line = output
    .split('\n')
    .find((l) => l.startsWith('{') && l.includes('"start-up check passed"'));
  if (line === undefined) throw new Error(`no start-up line in:\n${output}`);
  return JSON.parse(line) as { leftovers: Record<string, number> };
}

/** Spawns the built CLI's `replay` and collects its output. */
function spawnReplay(dir: string, args: readonly string[] = []) {
  const child = spawn(BIN, ['replay', '--data', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  /** Resolves once `test` holds, polling every 10 ms for at most `ms`; throws if the replay ends first. */
  const waitFor = async (test: () => boolean, what: string, ms = 120_000) => {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`replay ended before ${what}:\n${stderr}`);
      if (Date.now() > deadline) throw new Error(`replay never reached ${what}:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { child, exited, stdout: () => stdout, stderr: () => stderr, waitFor };
}

beforeAll(() => {
  ensureBuilt();
  passFile = writeSecret(makeTempDir(), 'admin-pass', 'correct horse battery staple');
  seeded = makeDataDir();
  registerUsersIn(seeded, USERS, BATCH);
}, 240_000);

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await stopServers();
});

afterAll(() => removeTempDirs());

describe('server start-up and a killed replay', () => {
  it("drops a dead replay's replay_new_*/replay_old_* tables and their indexes, counts them, and serves", async () => {
    const dir = copyOfSeeded();
    const before = projectionDigest(dir);
    leaveStagedTables(dir);
    const left = replayObjects(dir);
    expect(left).toContain('table replay_new_users');
    expect(left).toContain('table replay_old_x');
    expect(left).toContain('index replay_old_x_v');
    expect(left.filter((o) => o.startsWith('index replay_new_'))).not.toEqual([]);
    // The scratch of a replay that no longer runs: an exited child's pid.
    const dead = sleeper();
    const deadPid = dead.pid!;
    dead.kill('SIGKILL');
    await new Promise((r) => dead.once('exit', r));
    writeFileSync(join(dir, 'tmp', scratchNameOf(deadPid)), 'x');

    const server = await startServer(dir, passFile);
    const health = await fetch(`http://127.0.0.1:${server.port}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(startupLine(server.output()).leftovers).toMatchObject({ replayTables: 2, scratch: 1 });
    expect(await server.stop()).toBe(0);

    expect(replayObjects(dir)).toEqual([]);
    expect(tmpNames(dir)).toEqual([]);
    expect(projectionDigest(dir)).toBe(before);
    const verify = await runCli(['verify', '--data', dir, '--json']);
    expect(verify.stderr).not.toMatch(/error|fail/i);
    expect(verify.code).toBe(0);
  }, 120_000);

  it('keeps them, and the scratch, while a replay runs on the data directory', async () => {
    const dir = copyOfSeeded();
    leaveStagedTables(dir);
    const left = replayObjects(dir);
    const running = sleeper();
    // Written by its owner after that started, as a replay's scratch always is.
    const scratch = scratchNameOf(running.pid!);
    writeFileSync(join(dir, 'tmp', scratch), 'x');

    const server = await startServer(dir, passFile);
    expect((await fetch(`http://127.0.0.1:${server.port}/api/v1/health`)).status).toBe(200);
    expect(startupLine(server.output()).leftovers).toMatchObject({ replayTables: 0, scratch: 0 });
    expect(await server.stop()).toBe(0);
    expect(replayObjects(dir)).toEqual(left);
    expect(tmpNames(dir)).toEqual([scratch]);

    // Once that replay is gone, the next start removes both.
    running.kill('SIGKILL');
    await new Promise((r) => running.once('exit', r));
    const again = await startServer(dir, passFile);
    expect(startupLine(again.output()).leftovers).toMatchObject({ replayTables: 2, scratch: 1 });
    expect(await again.stop()).toBe(0);
    expect(replayObjects(dir)).toEqual([]);
    expect(tmpNames(dir)).toEqual([]);
  }, 120_000);

  it('a real replay killed with SIGKILL while staging leaves nothing once the server has started', async () => {
    const dir = copyOfSeeded();
    const before = projectionDigest(dir);
    const replay = spawnReplay(dir);
    // The first table's copy is announced before its staged table exists: from then on,
    // poll server.db for the staged table and kill the replay as soon as it is there.
    await replay.waitFor(() => replay.stderr().includes('swap: copying'), 'its staging');
    await replay.waitFor(
      () => replayObjects(dir).some((o) => o.startsWith('table replay_new_')),
      'a staged table',
    );
    replay.child.kill('SIGKILL');
    expect((await replay.exited).signal).toBe('SIGKILL');
    expect(replay.stdout()).not.toContain('projections rebuilt');
    expect(replayObjects(dir).some((o) => o.startsWith('table replay_new_'))).toBe(true);
    expect(tmpNames(dir).some((n) => n.startsWith('replay-'))).toBe(true);

    const server = await startServer(dir, passFile);
    expect((await fetch(`http://127.0.0.1:${server.port}/api/v1/health`)).status).toBe(200);
    const { leftovers } = startupLine(server.output());
    expect(leftovers.replayTables).toBeGreaterThanOrEqual(1);
    expect(leftovers.scratch).toBeGreaterThanOrEqual(1);
    expect(await server.stop()).toBe(0);

    expect(replayObjects(dir)).toEqual([]);
    expect(tmpNames(dir)).toEqual([]);
    expect(projectionDigest(dir)).toBe(before);
    const check = await runCli(['replay', '--check', '--data', dir]);
    expect(check.stdout).toContain('projections match the log');
    expect(check.code).toBe(0);
  }, 240_000);
});

describe('the scratch rule of start-up (removeLeftovers)', () => {
  it("judges a pid-named scratch by its replay's pid alone, never by its age", async () => {
    const dir = makeDataDir();
    const running = sleeper();
    const live = join(dir, 'tmp', scratchNameOf(running.pid!));
    writeFileSync(live, 'x');
    writeFileSync(`${live}-wal`, 'x');
    // An hour on, untouched all along: still its running replay's.
    expect(removeLeftovers(dir, Date.now() + 3_600_000).scratch).toBe(0);
    expect(tmpNames(dir)).toHaveLength(2);

    running.kill('SIGKILL');
    await new Promise((r) => running.once('exit', r));
    // Dead: gone at once, however fresh.
    writeFileSync(live, 'y');
    expect(removeLeftovers(dir).scratch).toBe(2);
    expect(tmpNames(dir)).toEqual([]);
  });

  it('takes a live pid that started after the scratch was last written for a reused one: not its replay', () => {
    const dir = makeDataDir();
    const newer = sleeper();
    const file = join(dir, 'tmp', scratchNameOf(newer.pid!));
    writeFileSync(file, 'x');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(file, hourAgo, hourAgo);
    expect(removeLeftovers(dir).scratch).toBe(1);
    expect(tmpNames(dir)).toEqual([]);
  });

  it('judges a scratch named with its own pid by the same rule: after a reboot the server may have the pid a killed replay had', () => {
    const dir = makeDataDir();
    const file = join(dir, 'tmp', scratchNameOf(process.pid));
    writeFileSync(file, 'x');
    // Written an hour before this process started: by another process that had its pid.
    const before = new Date(Date.now() - process.uptime() * 1000 - 3_600_000);
    utimesSync(file, before, before);
    expect(removeLeftovers(dir).scratch).toBe(1);
    expect(tmpNames(dir)).toEqual([]);
  });
});

describe('one replay at a time', () => {
  it('refuses replay, replay --check and replay --force while a real replay runs, changing nothing; runs once it has ended', async () => {
    const dir = copyOfSeeded();
    const before = projectionDigest(dir);
    const first = spawnReplay(dir);
    // Under way: past its verify, rebuilding in its scratch. Held there (SIGSTOP) so the
    // refusals below do not race its end.
    await first.waitFor(() => first.stderr().includes('replaying:'), 'its rebuild');
    first.child.kill('SIGSTOP');
    try {
      const held = tmpNames(dir);
      for (const args of [[], ['--check'], ['--force'], ['--check', '--json']]) {
        const refused = await runCli(['replay', '--data', dir, ...args]);
        expect(refused.code, args.join(' ')).toBe(1);
        expect(refused.stdout).toBe('');
        const lines = refused.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(`another replay (pid ${first.child.pid})`);
        expect(lines[0]).toContain('wait for it to finish, or stop it');
        expect(tmpNames(dir)).toEqual(held);
      }
      expect(replayObjects(dir)).toEqual([]);
      expect(projectionDigest(dir)).toBe(before);
    } finally {
      first.child.kill('SIGCONT');
    }
    expect((await first.exited).code).toBe(0);
    expect(first.stdout()).toContain('projections rebuilt');

    const next = await runCli(['replay', '--check', '--data', dir]);
    expect(next.stdout).toContain('projections match the log');
    expect(next.code).toBe(0);
    expect(tmpNames(dir)).toEqual([]);
  }, 240_000);

  it('of replays started at the same instant, at most one proceeds; the others name the one they saw', async () => {
    const dir = copyOfSeeded();
    const replays = Array.from({ length: 3 }, () => spawnReplay(dir, ['--check']));
    const ended = await Promise.all(replays.map((r) => r.exited));
    const passed = ended.filter((e) => e.code === 0);
    expect(passed.length).toBeLessThanOrEqual(1);
    replays.forEach((r, k) => {
      if (ended[k]!.code === 0) {
        expect(r.stdout()).toContain('projections match the log');
        return;
      }
      expect(ended[k]!.code).toBe(1);
      expect(r.stderr()).toMatch(/^error: another replay \(pid \d+\) is running/);
    });
    expect(tmpNames(dir)).toEqual([]);
  }, 240_000);
});
