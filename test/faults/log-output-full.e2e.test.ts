import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canMountTmpfs } from '../helpers/tmpfs.js';
import {
  BIN,
  ensureBuilt,
  freePort,
  makeDataDir,
  makeTempDir,
  removeTempDirs,
} from '../cli/helpers.js';

// Issue 12: with stdout redirected to a file on a full filesystem (the data directory on
// another, roomy one), the server hung for minutes, ignored SIGTERM and died of an
// unhandled ENOSPC. Logging must never stop or kill it: lines are dropped and counted.

const mountable = canMountTmpfs();
let mountPoint: string | undefined;

afterAll(() => {
  if (mountPoint) execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
  removeTempDirs();
});

/** Fills the filesystem at `dir` to the last byte; returns the file to remove to free it. */
function fill(dir: string): string {
  const file = join(dir, 'filler.bin');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch {
    // ENOSPC: full.
  }
  for (;;) {
    try {
      writeSync(fd, Buffer.alloc(1));
    } catch {
      break;
    }
  }
  closeSync(fd);
  return file;
}

async function get(port: number, path: string) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe.skipIf(!mountable)('a full disk under the log output', () => {
  beforeAll(() => {
    ensureBuilt();
    const dir = makeTempDir('verstak-log-tmpfs-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir]);
    mountPoint = dir;
  }, 180_000);

  it('keeps serving, counts the dropped lines, logs again with space, and stops on SIGTERM', async () => {
    const dataDir = makeDataDir();
    const logFile = join(mountPoint!, 'server.log');
    const logFd = openSync(logFile, 'a');
    const filler = fill(mountPoint!);
    const port = await freePort();
    const child = spawn(BIN, ['serve', '--data', dataDir, '--port', String(port)], {
      stdio: ['ignore', logFd, 'pipe'],
    });
    closeSync(logFd);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      let up = false;
      for (let i = 0; i < 200 && !up; i++) {
        up = await get(port, '/livez').then(
          (r) => r.status === 200,
          () => false,
        );
        if (!up) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(up).toBe(true);
      // Every request writes a log line, and none of them can be written.
      for (let i = 0; i < 50; i++) expect((await get(port, '/livez')).status).toBe(200);
      const full = await get(port, '/api/v1/health');
      expect(full.status).toBe(200);
      expect(full.body.log_lines_dropped).toBeGreaterThan(0);

      rmSync(filler);
      const sizeBefore = statSync(logFile).size;
      let written = false;
      for (let i = 0; i < 100 && !written; i++) {
        await get(port, '/livez');
        await new Promise((resolve) => setTimeout(resolve, 20));
        written = statSync(logFile).size > sizeBefore;
      }
      expect(written, 'log lines are written again once there is space').toBe(true);
      const lines = readFileSync(logFile, 'utf8').trim().split('\n');
      expect(() => lines.map((l) => JSON.parse(l) as unknown)).not.toThrow();

      fill(mountPoint!);
      child.kill('SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 10_000)),
      ]);
      expect(code).toBe(0);
      expect(stderr).not.toMatch(/ENOSPC|Unhandled|uncaught/i);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
});
