import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  closeSync,
  rmSync,
  statSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBackup } from '../../src/backup/create-backup.js';
import { restoreBackup } from '../../src/backup/restore-backup.js';
import { openRuntime } from '../../src/runtime.js';
import { seededIds, testHasher } from '../helpers/runtime.js';

// How createBackup copies the database: into RAM (/dev/shm) when there is room, else into
// the staging folder; either way the archive restores to the same log, and no copy is left.
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'verstak-backup-copy-'));
  dirs.push(dir);
  return dir;
};

async function dataDirWithUsers(count: number): Promise<string> {
  const dataDir = tempDir();
  const runtime = openRuntime({ dataDir, hasher: testHasher, ids: seededIds() });
  try {
    for (let i = 0; i < count; i++) {
      await runtime.users.register(
        {
          username: `user${i}`,
          email: `user${i}@example.test`,
          password: 'pw-123456789',
          confirmed: true,
        },
        'operator',
        { actor: 'test' },
      );
    }
  } finally {
    runtime.close();
  }
  return dataDir;
}

const ownScratch = () =>
  existsSync('/dev/shm')
    ? readdirSync('/dev/shm').filter((n) => n.startsWith(`verstak-backup-${process.pid}-`))
    : [];

const shmIsTmpfs = () => {
  try {
    return statfsSync('/dev/shm').type === 0x01021994;
  } catch {
    return false;
  }
};

function gzipHeaderOf(file: string): Buffer {
  const head = Buffer.alloc(10);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 10, 0);
  } finally {
    closeSync(fd);
  }
  return head;
}

describe('the database copy of a backup', () => {
  it.each([
    ['in RAM when there is room', true],
    ['in the staging folder', false],
  ])('%s: restores to the recorded log position and leaves no copy', async (_, memoryScratch) => {
    const dataDir = await dataDirWithUsers(20);
    const archive = join(tempDir(), 'backup.tar.gz');
    let copiesInRam = 0;
    const summary = await createBackup({
      dataDir,
      out: archive,
      memoryScratch,
      onProgress: (phase) => {
        if (phase === 'database') copiesInRam = Math.max(copiesInRam, ownScratch().length);
      },
    });
    expect(copiesInRam).toBe(memoryScratch && shmIsTmpfs() ? 1 : 0);
    expect(summary.head_seq).toBeGreaterThanOrEqual(20);
    expect(summary.database_bytes).toBe(statSync(join(dataDir, 'server.db')).size);
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    // The header restore compares byte for byte (gzip levels 2 to 6 write it alike).
    expect(gzipHeaderOf(archive)).toEqual(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]));
    expect(ownScratch()).toEqual([]);
    expect(readdirSync(join(dataDir, 'tmp'))).toEqual([]);

    const restored = await restoreBackup({ archive, dataDir: join(tempDir(), 'restored') });
    expect(restored.head_seq).toBe(summary.head_seq);
    expect(restored.chain_head).toBe(summary.chain_head);
  });

  it.skipIf(!existsSync('/dev/shm'))(
    'removes the RAM copy a killed backup left behind, and only a dead one',
    async () => {
      const dead = spawnSync(process.execPath, ['-e', '0']).pid;
      const stale = join('/dev/shm', `verstak-backup-${dead}-test`);
      const live = join('/dev/shm', `verstak-backup-${process.pid}-test`);
      for (const dir of [stale, live]) {
        mkdirSync(dir, { mode: 0o700 });
        dirs.push(dir);
        writeFileSync(join(dir, 'server.db'), 'leftover');
      }
      const dataDir = await dataDirWithUsers(1);
      await createBackup({ dataDir, out: join(tempDir(), 'b.tar.gz') });
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
    },
  );
});
