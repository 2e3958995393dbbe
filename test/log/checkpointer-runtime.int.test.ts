import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openDatabase, verifyLog } from '../../src/log/index.js';
import { findUserByUsername } from '../../src/projections/users.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { seededIds, testHasher, useRuntimes } from '../helpers/runtime.js';

const open = useRuntimes();

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

async function registerUsers(runtime: Runtime, count: number) {
  for (let i = 0; i < count; i++) {
    await runtime.users.register(
      { username: `user${i}`, email: `user${i}@example.org`, password: 'a-long-enough-password' },
      'operator',
      { actor: 'test' },
    );
  }
}

describe('a runtime with the WAL checkpoint worker', () => {
  it('is opt-in: CLI commands open the runtime without a worker', () => {
    expect(open({ onDisk: true }).checkpointer).toBeUndefined();
  });

  it('stops the worker on close and leaves no WAL behind, with every commit kept', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'verstak-ckpt-'));
    dirs.push(dataDir);
    const errors: unknown[] = [];
    const runtime = openRuntime({
      dataDir,
      ids: seededIds(),
      hasher: testHasher,
      checkpointer: { thresholdFrames: 8, pollMs: 5, onError: (error) => errors.push(error) },
    });
    try {
      await registerUsers(runtime, 30);
      await vi.waitFor(() => expect(runtime.checkpointer!.stats().frames).toBeGreaterThan(0), {
        timeout: 10_000,
        interval: 5,
      });
    } finally {
      runtime.close();
    }
    expect(errors).toEqual([]);

    const file = join(dataDir, 'server.db');
    expect(existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0).toBe(0);
    const reopened = openDatabase(file, { mustExist: true });
    try {
      expect(verifyLog(reopened)).toMatchObject({ events: 30, problems: [] });
      expect(findUserByUsername(reopened, 'user29')).toBeDefined();
    } finally {
      reopened.close();
    }
  });

  it('keeps serving when the worker fails', async () => {
    const errors: unknown[] = [];
    const runtime = open({
      onDisk: true,
      checkpointer: {
        file: join(tmpdir(), 'verstak-no-such-dir', 'server.db'),
        onError: (error) => errors.push(error),
      },
    });
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 10_000, interval: 5 });
    await registerUsers(runtime, 3);
    expect(findUserByUsername(runtime.db, 'user2')).toBeDefined();
  });
});
