import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compileFixture, ensureBuilt } from '../helpers/build.js';
import { strace } from '../helpers/strace.js';

const APPENDS = 50;

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

/**
 * Runs the fixture under strace and counts fsync/fdatasync calls on the WAL file (-y names
 * each fd's path), which is where a WAL-mode commit must be synced to survive power loss.
 */
function walSyncs(fixture: string, extra: string[] = []): number {
  const dir = mkdtempSync(join(tmpdir(), 'verstak-fsync-'));
  dirs.push(dir);
  const trace = join(dir, 'strace.out');
  const run = spawnSync(
    strace!,
    [
      '-f',
      '-y',
      '-e',
      'trace=fsync,fdatasync',
      '-o',
      trace,
      process.execPath,
      fixture,
      join(dir, 'server.db'),
      String(APPENDS),
      ...extra,
    ],
    { encoding: 'utf8' },
  );
  expect(run.status, run.stderr).toBe(0);
  return readFileSync(trace, 'utf8')
    .split('\n')
    .filter((line) => /\b(?:fsync|fdatasync)\(\d+<[^>]*server\.db-wal>\)\s*=\s*0/.test(line))
    .length;
}

// RELIABILITY.md §0.1: better-sqlite3 in WAL mode syncs only at checkpoints unless
// synchronous=FULL is set; reading the pragma back proves nothing, counting syscalls does.
describe('durability of commits', () => {
  let fixture: string;
  beforeAll(async () => {
    if (!strace) return;
    await ensureBuilt();
    fixture = compileFixture('test/fixtures/fsync-appends.ts');
  }, 180_000);

  it(`fsyncs the WAL at least once per commit (${APPENDS} appends)`, (ctx) => {
    if (!strace) {
      if (process.env.CI) throw new Error('strace is required in CI (apt-get install -y strace)');
      ctx.skip('strace is not installed: the fsync audit cannot run here');
    }
    expect(walSyncs(fixture)).toBeGreaterThanOrEqual(APPENDS);
  });

  it('sees the difference when commits are not synced (control run at synchronous=NORMAL)', (ctx) => {
    if (!strace) {
      if (process.env.CI) throw new Error('strace is required in CI (apt-get install -y strace)');
      ctx.skip('strace is not installed: the fsync audit cannot run here');
    }
    expect(walSyncs(fixture, ['NORMAL'])).toBeLessThan(APPENDS);
  });
});
