import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BIN, ensureBuilt, makeDataDir, removeTempDirs, runCli } from '../cli/helpers.js';
import { registerUsersIn } from './live-log.js';

// Large enough that the rebuild runs for a while after its first progress line.
const USERS = 60_000;
const BATCH = 1000;

let dataDir: string;

/** A digest of every live projection table and checkpoint, to see that nothing moved. */
function projectionDigest(dir: string): string {
  const db = new Database(join(dir, 'server.db'), { readonly: true });
  try {
    const hash = createHash('sha256');
    for (const table of ['users', 'audit_index', 'projection_checkpoints']) {
      for (const row of db.prepare(`SELECT * FROM ${table} ORDER BY 1`).raw().iterate())
        hash.update(JSON.stringify(row));
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

const scratchFiles = (dir: string) =>
  readdirSync(join(dir, 'tmp')).filter((name) => name.startsWith('replay-'));

beforeAll(() => {
  ensureBuilt();
  dataDir = makeDataDir();
  registerUsersIn(dataDir, USERS, BATCH);
}, 180_000);

afterAll(() => removeTempDirs());

it('a replay killed during its load leaves the live projections as they were, and the next replay removes its scratch file', async () => {
  const before = projectionDigest(dataDir);

  const child = spawn(BIN, ['replay', '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  // The first progress line comes after the first batch of the rebuild: the load is under way.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no progress from replay: ${stderr}`)), 60_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('replaying:')) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  expect(await exited).toBe('SIGKILL');
  expect(stdout).not.toContain('projections rebuilt');
  // Killed midway: its scratch database is still there, and the live tables never changed.
  expect(scratchFiles(dataDir)).not.toEqual([]);
  expect(projectionDigest(dataDir)).toBe(before);

  const again = await runCli(['replay', '--data', dataDir, '--json']);
  expect(again.stderr).not.toMatch(/error/i);
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ events: USERS, head: USERS });
  expect(scratchFiles(dataDir)).toEqual([]);
  expect(projectionDigest(dataDir)).toBe(before);
}, 180_000);

const replayTables = (dir: string) => {
  const db = new Database(join(dir, 'server.db'), { readonly: true });
  try {
    return db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'replay%'")
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
};

it('a replay killed while it stages tables beside the live ones leaves the live tables as they were, and the next replay drops what it staged', async () => {
  const before = projectionDigest(dataDir);

  const child = spawn(BIN, ['replay', '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => resolve(signal)),
  );
  // The second table's line comes after the first table was copied and committed.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replay never staged: ${stderr}`)), 120_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if ((stderr.match(/swap: copying/g) ?? []).length >= 2) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  expect(await exited).toBe('SIGKILL');
  expect(replayTables(dataDir)).toContain('replay_new_users');
  expect(projectionDigest(dataDir)).toBe(before);

  const again = await runCli(['replay', '--data', dataDir, '--json']);
  expect(again.code).toBe(0);
  expect(again.stderr).toContain('swap: dropping replay_new_users');
  expect(JSON.parse(again.stdout)).toMatchObject({ events: USERS, head: USERS });
  expect(JSON.parse(again.stdout).staged_tables).toContain('users');
  expect(replayTables(dataDir)).toEqual([]);
  expect(scratchFiles(dataDir)).toEqual([]);
  expect(projectionDigest(dataDir)).toBe(before);
}, 240_000);
