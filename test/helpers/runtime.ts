import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import type { Ids } from '../../src/ids.js';
import { openRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime.js';
import type { PasswordHasher } from '../../src/security/passwords.js';

/**
 * argon2 costs ~30 ms per hash and is not what these suites test (its own suite uses the
 * real one); a property run registering hundreds of users needs the hash to be instant.
 * The digest still depends on the password, so a wrong password does not verify.
 */
export const testHasher: PasswordHasher = {
  hash: async (password) => `test$${password}`,
  verify: async (stored, password) => stored !== undefined && stored === `test$${password}`,
};

/** Predictable ids, so a failing run can be read and replayed. */
export function seededIds(prefix = ''): Ids {
  let n = 0;
  const next = () => (++n).toString(16).padStart(24, '0');
  return {
    userId: () => `${prefix}${next()}`,
    deviceId: () => `dev_${prefix}${next()}`,
    secret: () => next().padStart(64, '0'),
    epoch: () => `epoch${next()}`,
  };
}

export const TEST_START = '2026-07-10T12:00:00.000Z';

export interface TestRuntime extends Runtime {
  readonly clock: ReturnType<typeof createManualClock>;
}

/**
 * A runtime over a fresh temp data dir with an in-memory database, a manual clock, seeded
 * ids and the fast hasher; `close()` also deletes the data dir.
 */
export type TestRuntimeOptions = Partial<Omit<RuntimeOptions, 'clock'>> & {
  /** A real server.db in the data dir instead of ':memory:' (a second connection can read it). */
  readonly onDisk?: boolean;
};

export function openTestRuntime({ onDisk, ...options }: TestRuntimeOptions = {}): TestRuntime {
  const dataDir = mkdtempSync(join(tmpdir(), 'verstak-test-'));
  const clock = createManualClock(TEST_START);
  let runtime: Runtime;
  try {
    runtime = openRuntime({
      dataDir,
      databaseFile: onDisk ? join(dataDir, 'server.db') : ':memory:',
      clock,
      ids: seededIds(),
      hasher: testHasher,
      ...options,
    });
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...runtime,
    clock,
    close() {
      try {
        runtime.close();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Opens runtimes that are closed (and their data dirs removed) after each test. */
export function useRuntimes() {
  let open: TestRuntime[] = [];
  afterEach(() => {
    const closing = open;
    open = [];
    for (const runtime of closing) runtime.close();
  });
  return (options: TestRuntimeOptions = {}) => {
    const runtime = openTestRuntime(options);
    open.push(runtime);
    return runtime;
  };
}
