import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canMountTmpfs } from '../helpers/tmpfs.js';
import { addUser, ensureBuilt, makeTempDir, removeTempDirs } from '../cli/helpers.js';
import { openRuntime } from '../../src/runtime.js';
import {
  checkStore,
  downloadBlob,
  httpCall,
  killServers,
  pairDevice,
  pullAll,
  pushOps,
  registeredBlobs,
  sleep,
  startServer,
  uniqueOp,
  type Reply,
} from './rig.js';

// RELIABILITY.md R6 on a real 16 MiB filesystem. Without the right to mount, the unit-level
// variant (PRAGMA max_page_count) in test/http/storage-full.e2e.test.ts is what covers R6.
const MiB = 1024 * 1024;
const FILLER_BYTES = 3 * MiB;

const mountable = canMountTmpfs();
if (!mountable) {
  console.log(
    'R6: mounting a tmpfs was refused; disk full is covered by test/http/storage-full.e2e.test.ts (max_page_count) only',
  );
}

let mountPoint: string | undefined;

afterEach(() => killServers());
afterAll(async () => {
  await killServers();
  if (mountPoint) execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
  removeTempDirs();
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A refusal for lack of space: 507, or 503 with Retry-After; code storage_full either way. */
function expectStorageFull(res: Reply, what: string) {
  const status = `${what}: ${res.status} ${res.raw.toString().slice(0, 200)}`;
  expect([507, 503], status).toContain(res.status);
  if (res.status === 503) expect(res.headers['retry-after'], status).toBeDefined();
  expect(res.body.code, status).toBe('storage_full');
}

describe.skipIf(!mountable)('R6: disk full on a real 16 MiB tmpfs', () => {
  beforeAll(() => {
    ensureBuilt();
    const dir = makeTempDir('verstak-tmpfs-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', dir]);
    mountPoint = dir;
  }, 180_000);

  it('refuses with storage_full, never 500, keeps batches whole and recovers without a restart', async () => {
    const fs = mountPoint!;
    const dataDir = join(fs, 'data');
    openRuntime({ dataDir }).close();
    await addUser(dataDir, 'alice');
    // Space to give back later, on the same filesystem.
    const filler = join(fs, 'filler.bin');
    writeFileSync(filler, randomBytes(FILLER_BYTES));

    const server = await startServer(dataDir);
    const device = await pairDevice(server, 'alice', 'vault-1', 'laptop', '127.0.0.3');

    const batches: { ids: string[]; acked: boolean }[] = [];
    const uploaded = new Map<string, Buffer>();
    const statuses = new Map<number, number>();
    let pushRefused = 0;
    let uploadRefused = 0;
    let batchNo = 0;
    const pushBatch = async () => {
      batchNo += 1;
      const ops = Array.from({ length: 10 }, (_, i) =>
        uniqueOp(`b${batchNo}-${i}`, randomBytes(1024).toString('hex')),
      );
      const res = await pushOps(server, device, ops);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      batches.push({ ids: ops.map((o) => o.op_id), acked: res.status === 200 });
      if (res.status !== 200) {
        expectStorageFull(res, `push ${batchNo}`);
        pushRefused += 1;
      }
    };
    const upload = async () => {
      const content = randomBytes(MiB);
      const res = await httpCall(server, 'POST', '/api/v1/blobs/', {
        token: device.token,
        localAddress: device.localAddress,
        headers: { 'content-type': 'multipart/form-data; boundary=x' },
        body: Buffer.concat([
          Buffer.from(
            '--x\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n' +
              'Content-Type: application/octet-stream\r\n\r\n',
          ),
          content,
          Buffer.from('\r\n--x--\r\n'),
        ]),
        timeoutMs: 30_000,
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 200) {
        expect(res.body.sha256).toBe(sha256(content));
        uploaded.set(sha256(content), content);
      } else {
        expectStorageFull(res, 'upload');
        uploadRefused += 1;
      }
    };

    // Blobs first, then ops, until each is refused; then both a few more times while full.
    for (let i = 0; i < 40 && uploadRefused === 0; i++) await upload();
    for (let i = 0; i < 3000 && pushRefused === 0; i++) await pushBatch();
    for (let i = 0; i < 5; i++) {
      await pushBatch();
      await upload();
    }
    console.log(
      `R6 tmpfs: ${uploaded.size} blobs and ${batches.filter((b) => b.acked).length} batches stored, ` +
        `${uploadRefused} uploads and ${pushRefused} pushes refused; statuses ${JSON.stringify([...statuses])}`,
    );
    expect(uploadRefused).toBeGreaterThan(0);
    expect(pushRefused).toBeGreaterThan(0);
    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
    // Health and readiness say so while the disk is full (issue 12), and the reason.
    for (const url of ['/api/v1/health', '/readyz']) {
      const health = await httpCall(server, 'GET', url);
      expect(health.status, url).toBe(503);
      expect(health.body, url).toMatchObject({
        status: 'degraded',
        database_reachable: true,
        database_writable: false,
        blob_storage_writable: false,
        degraded_reasons: ['database_storage_full_or_read_only', 'blob_storage_full_or_read_only'],
      });
    }

    // Space comes back: writes succeed again, on the same process, within 5 s.
    rmSync(filler);
    const freedAt = Date.now();
    let recovered = false;
    while (!recovered && Date.now() - freedAt < 5_000) {
      const ops = [uniqueOp(`after-${Date.now()}`, 'space again')];
      const res = await pushOps(server, device, ops);
      batches.push({ ids: ops.map((o) => o.op_id), acked: res.status === 200 });
      if (res.status === 200) recovered = true;
      else {
        expectStorageFull(res, 'push after freeing space');
        await sleep(200);
      }
    }
    expect(recovered, 'a push within 5 s of freeing space').toBe(true);
    const before = uploaded.size;
    await upload();
    expect(uploaded.size, 'an upload after freeing space').toBe(before + 1);
    const healthy = await httpCall(server, 'GET', '/readyz');
    expect([healthy.status, healthy.body.degraded_reasons]).toEqual([200, []]);

    // Each batch is all there or not at all; acknowledged ones are all there.
    const present = new Set((await pullAll(server, device)).map((op) => op.op_id));
    for (const batch of batches) {
      const count = batch.ids.filter((id) => present.has(id)).length;
      expect(count, `batch ${batch.ids[0]} (acked ${batch.acked})`).toBe(
        batch.acked ? batch.ids.length : 0,
      );
    }
    for (const [sha, content] of uploaded) {
      const res = await downloadBlob(server, device, sha);
      expect(res.status).toBe(200);
      expect(res.raw.equals(content)).toBe(true);
    }
    await server.stop('SIGTERM');
    expect(server.child.exitCode).toBe(0);

    // No blob registered without its complete file; no staged upload left behind.
    for (const sha of registeredBlobs(dataDir)) {
      const file = join(dataDir, 'blobs', sha.slice(0, 2), sha.slice(2, 4), sha);
      expect(existsSync(file), `file of registered blob ${sha}`).toBe(true);
      expect(sha256(readFileSync(file))).toBe(sha);
    }
    const tmp = join(dataDir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    expect(readdirSync(tmp)).toEqual([]);
    await checkStore(dataDir);
  }, 180_000);
});
