import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openRuntime } from '../../src/runtime.js';
import { seedRetention } from '../commands/cleanup-fixtures.js';
import {
  ensureBuilt,
  jsonLines,
  makeDataDir,
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

const eventTypes = (dataDir: string) => {
  const db = new Database(join(dataDir, 'server.db'), { readonly: true });
  const types = db.prepare('SELECT type FROM events ORDER BY seq').pluck().all() as string[];
  db.close();
  return types;
};

/** A data dir holding one of each kind of expired thing, as of the real clock. */
function seededDataDir() {
  const dataDir = makeDataDir();
  const rt = openRuntime({ dataDir });
  try {
    return { dataDir, files: seedRetention(rt, new Date()) };
  } finally {
    rt.close();
  }
}

const EXPECTED = {
  sessions: 1,
  email_tokens: 1,
  push_answers: 1,
  temp_uploads: 1,
  temp_upload_bytes: 'old upload'.length,
  blob_files: 1,
  blob_file_bytes: 'orphan'.length,
};

describe('cleanup', () => {
  it('--dry-run reports the counts and changes nothing', async () => {
    const { dataDir, files } = seededDataDir();
    const before = eventTypes(dataDir);
    const result = await runCli(['cleanup', '--data', dataDir, '--dry-run', '--json']);
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout)).toEqual([
      expect.objectContaining({ ...EXPECTED, dry_run: true, seq: null }),
    ]);
    expect(eventTypes(dataDir)).toEqual(before);
    for (const file of Object.values(files)) expect(existsSync(file), file).toBe(true);
  });

  it('removes, records CleanupRan and reports counts and bytes per kind', async () => {
    const { dataDir, files } = seededDataDir();
    const result = await runCli(['cleanup', '--data', dataDir, '--json']);
    expect(result.code).toBe(0);
    const [report] = jsonLines(result.stdout);
    const types = eventTypes(dataDir);
    expect(report).toEqual(
      expect.objectContaining({ ...EXPECTED, dry_run: false, seq: types.length }),
    );
    expect(types.at(-1)).toBe('CleanupRan');
    expect(existsSync(files.tempOld)).toBe(false);
    expect(existsSync(files.orphan)).toBe(false);
    expect(existsSync(files.referenced)).toBe(true);

    const again = await runCli(['cleanup', '--data', dataDir]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^KIND\s+REMOVED\s+BYTES$/m);
    expect(again.stdout).toMatch(/^unreferenced blob files\s+0\s+0 B$/m);
    expect(again.stdout).toContain('nothing to remove');
    expect(eventTypes(dataDir)).toEqual(types);
    expect((await runCli(['replay', '--data', dataDir, '--check'])).code).toBe(0);
  });

  it('prints a human summary with the bytes', async () => {
    const { dataDir } = seededDataDir();
    const result = await runCli(['cleanup', '--data', dataDir, '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^KIND\s+WOULD REMOVE\s+BYTES$/m);
    expect(result.stdout).toMatch(/^expired sessions\s+1$/m);
    expect(result.stdout).toMatch(/^temp uploads\s+1\s+10 B$/m);
    expect(result.stdout).toContain('dry run: nothing changed');
  });

  it('refuses a data directory without a database', async () => {
    const result = await runCli(['cleanup', '--data', join(makeDataDir(), 'missing')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no server database/);
  });
});

describe('serve', () => {
  it('runs the cleanup on its schedule (retention.cleanup_interval_hours)', async () => {
    const { dataDir, files } = seededDataDir();
    // About 0.4 s between runs; the first runs right after start-up.
    writeFileSync(join(dataDir, 'config.yml'), 'retention:\n  cleanup_interval_hours: 0.0001\n');
    const server = await startServer(dataDir, writeSecret(makeTempDir(), 'pass', 'admin password'));
    await expect
      .poll(() => eventTypes(dataDir).includes('CleanupRan'), { timeout: 10_000 })
      .toBe(true);
    expect(existsSync(files.orphan)).toBe(false);
    // The line is written after the event's commit and reaches us through a pipe.
    await expect.poll(() => server.output(), { timeout: 5_000 }).toContain('retention cleanup ran');
    expect(await server.stop()).toBe(0);
  });
});
