import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  addUser,
  ensureBuilt,
  makeDataDir,
  makeTempDir,
  removeTempDirs,
  runCli,
} from '../cli/helpers.js';
import {
  checkStore,
  downloadBlob,
  killServers,
  pairDevice,
  pullAll,
  pushOps,
  registeredBlobs,
  startServer,
  uniqueOp,
  uploadBlob,
  type Device,
} from './rig.js';

// RELIABILITY.md R8 against the built server, several backups while 8 devices push over HTTP.
// test/cli/backup-restore.e2e.test.ts covers one backup of an in-process server in depth
// (manifest, file modes, config and key, refusals); this adds replay --check on each restore
// and the T2 count of backups.
const BACKUPS = 5;

beforeAll(() => ensureBuilt(), 180_000);
afterEach(() => killServers());
afterAll(async () => {
  await killServers();
  removeTempDirs();
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('R8: backups of the running server while 8 devices push', () => {
  it(`${BACKUPS} backups restore into servers with the same ops and blobs`, async () => {
    const dataDir = makeDataDir();
    await addUser(dataDir, 'user0');
    await addUser(dataDir, 'user1');
    const live = await startServer(dataDir);
    const devices: Device[] = [];
    for (let u = 0; u < 2; u++) {
      for (let v = 0; v < 2; v++) {
        for (let d = 0; d < 2; d++) {
          const n = devices.length;
          devices.push(
            await pairDevice(live, `user${u}`, `vault-${u}-${v}`, `dev${n}`, `127.0.0.${30 + n}`),
          );
        }
      }
    }
    const uploader = new Map<string, Device>();
    const upload = async (device: Device, size: number) => {
      const content = randomBytes(size);
      const res = await uploadBlob(live, device, content);
      expect(res.status).toBe(200);
      uploader.set(sha256(content), device);
    };
    for (const [i, device] of devices.entries()) await upload(device, 1000 + i * 30_000);

    let pushing = true;
    let acked = 0;
    const load = devices.map(async (device, n) => {
      for (let round = 0; round < 5000 && pushing; round++) {
        const ops = Array.from({ length: 1 + (round % 20) }, (_, i) =>
          uniqueOp(`${device.name}-${round}-${i}`, `round ${round}`),
        );
        const res = await pushOps(live, device, ops);
        expect(res.status).toBe(200);
        acked += ops.length;
        if (round % 25 === n) await upload(device, 4096 + round);
      }
    });
    const backups: { archive: string; head: number }[] = [];
    for (let b = 0; b < BACKUPS; b++) {
      const archive = join(makeTempDir(), `backup-${b}.tar.gz`);
      const result = await runCli(['backup', '--data', dataDir, '--out', archive, '--json']);
      expect(result.code, result.stderr).toBe(0);
      backups.push({ archive, head: (JSON.parse(result.stdout) as { head_seq: number }).head_seq });
    }
    pushing = false;
    await Promise.all(load);
    const heads = backups.map((b) => b.head);
    console.log(`R8: ${acked} ops acked during ${BACKUPS} backups at heads ${heads.join(', ')}`);
    // The backups happened under load: each saw a later log than the one before.
    for (let b = 1; b < BACKUPS; b++) expect(heads[b]).toBeGreaterThan(heads[b - 1]!);

    const liveOps = new Map<string, Awaited<ReturnType<typeof pullAll>>>();
    for (const device of devices.filter((_, n) => n % 2 === 0)) {
      liveOps.set(device.vaultId, await pullAll(live, device));
    }
    for (const { archive, head } of backups) {
      const restoredDir = join(makeTempDir(), 'restored');
      const restored = await runCli([
        'restore',
        '--from',
        archive,
        '--data',
        restoredDir,
        '--json',
      ]);
      expect(restored.code, restored.stderr).toBe(0);
      const summary = JSON.parse(restored.stdout) as { epoch: string; previous_epoch: string };
      expect(summary.epoch).not.toBe(summary.previous_epoch);
      await checkStore(restoredDir);

      const copy = await startServer(restoredDir);
      for (const device of devices.filter((_, n) => n % 2 === 0)) {
        const expected = liveOps.get(device.vaultId)!.filter((op) => op.server_sequence <= head);
        expect(await pullAll(copy, device)).toEqual(expected);
      }
      const blobs = registeredBlobs(restoredDir);
      expect(blobs.length).toBeGreaterThanOrEqual(devices.length);
      for (const sha of blobs) {
        const res = await downloadBlob(copy, uploader.get(sha)!, sha);
        expect(res.status).toBe(200);
        expect(sha256(res.raw)).toBe(sha);
      }
      await copy.stop('SIGTERM');
    }
    await live.stop('SIGTERM');
  }, 240_000);
});
