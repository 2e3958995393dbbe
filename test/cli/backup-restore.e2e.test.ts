import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { saveConfig } from '../../src/config.js';
import { openDatabase, readEpoch, verifyLog } from '../../src/log/index.js';
import {
  pull,
  pushAccepted,
  startTestServer,
  textOp,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';
import {
  downloadBlob,
  flipByte,
  flipInMember,
  modesUnder,
  openServerOn,
  pairDevices,
  randomContent,
  readManifest,
  sha256,
  tarMembers,
  uploadBlob,
  vaultOps,
} from './backup-rig.js';
import { ensureBuilt, makeTempDir, removeTempDirs, runCli } from './helpers.js';

beforeAll(() => ensureBuilt(), 180_000);

const servers: TestServer[] = [];
const track = (server: TestServer) => (servers.push(server), server);

afterEach(async () => {
  for (const server of servers.splice(0).reverse()) await server.close();
  removeTempDirs();
});

interface BackupJson {
  archive: string;
  head_seq: number;
  chain_head: string;
  epoch: string;
  blobs: number;
}
interface RestoreJson {
  head_seq: number;
  resumed_after: number;
  epoch: string;
  previous_epoch: string;
  kept_aside: string | null;
}

async function backupOf(dataDir: string, out: string): Promise<BackupJson> {
  const result = await runCli(['backup', '--data', dataDir, '--out', out, '--json']);
  if (result.code !== 0) throw new Error(`backup failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as BackupJson;
}

async function restoreOf(archive: string, dataDir: string, ...extra: string[]) {
  return runCli(['restore', '--from', archive, '--data', dataDir, '--json', ...extra]);
}

let opCounter = 0;
const uniqueOp = (tag: string) => {
  opCounter += 1;
  // Every op touches its own path: nothing supersedes anything, so a pull from 0 lists all.
  return textOp(`op-${tag}-${opCounter}`, `notes/${tag}-${opCounter}.md`, `content ${opCounter}`);
};

/** A server with one user, one vault and two devices, pushed until the log head is `head`. */
async function smallServer(head: number) {
  const server = track(await startTestServer());
  const [vault] = await pairDevices(server, 1, 1, 2);
  const [writer, reader] = vault!.devices;
  while (server.runtime.store.head() < head) await pushAccepted(server, writer!, [uniqueOp('w')]);
  return { server, writer: writer!, reader: reader! };
}

describe('backup of a running server, then restore', () => {
  it('copies a consistent state while 8 devices push, and the restore serves the same ops and blobs', async () => {
    const server = track(await startTestServer());
    // config.yml and the secret key (created by its first use) travel with the backup.
    saveConfig(server.dir, server.runtime.config);
    server.runtime.secrets.encrypt('probe', 'backup-test');
    const vaults = await pairDevices(server, 2, 2, 2);
    const devices = vaults.flatMap((v) => v.devices);
    expect(devices).toHaveLength(8);
    const blobs = new Map<string, Buffer>();
    const owners = new Map<string, Device>();
    for (const [i, vault] of vaults.entries()) {
      const content = randomContent(1000 + i * 70_000);
      expect((await uploadBlob(server, vault.devices[0]!, content)).statusCode).toBe(200);
      blobs.set(sha256(content), content);
      owners.set(sha256(content), vault.devices[0]!);
    }
    for (const device of devices) await pushAccepted(server, device, [uniqueOp('pre')]);

    const out = join(makeTempDir(), 'backup.tar.gz');
    let backupDone = false;
    const backup = backupOf(server.dir, out).finally(() => (backupDone = true));
    // Every device keeps pushing while the backup runs (bounded in rounds and time).
    let pushedDuring = 0;
    const deadline = Date.now() + 60_000;
    for (let round = 0; round < 400 && !backupDone && Date.now() < deadline; round++) {
      await Promise.all(
        devices.map(async (device) => {
          await pushAccepted(server, device, [uniqueOp('during')]);
          if (!backupDone) pushedDuring += 1;
        }),
      );
      if (round % 10 === 0) {
        const content = randomContent(5000 + round);
        expect((await uploadBlob(server, devices[round % 8]!, content)).statusCode).toBe(200);
        blobs.set(sha256(content), content);
        owners.set(sha256(content), devices[round % 8]!);
      }
    }
    const summary = await backup;
    expect(pushedDuring).toBeGreaterThan(0);
    // A few more after the backup: these must not be in the restore.
    for (const device of devices) await pushAccepted(server, device, [uniqueOp('after')]);
    expect(server.runtime.store.head()).toBeGreaterThan(summary.head_seq);

    const restoredDir = join(makeTempDir(), 'restored');
    const restored = await restoreOf(out, restoredDir);
    expect(restored.stderr).not.toMatch(/error/);
    expect(restored.code).toBe(0);
    const restoreSummary = JSON.parse(restored.stdout) as RestoreJson;
    expect(restoreSummary.head_seq).toBe(summary.head_seq);

    // The manifest's head and chain hash are those of the restored database.
    const manifest = readManifest(out);
    expect(manifest.log.head_seq).toBe(summary.head_seq);
    const db = new Database(join(restoredDir, 'server.db'), { readonly: true });
    const last = db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() as {
      seq: number;
      hash: string;
    };
    const restoredBlobs = db.prepare('SELECT sha256 FROM blobs').pluck().all() as string[];
    db.close();
    expect(last).toEqual({ seq: manifest.log.head_seq, hash: manifest.log.chain_head });
    expect(manifest.log.epoch).toBe(readEpoch(server.runtime.db));

    for (const name of ['config.yml', 'secret.key']) {
      expect(manifest.files.map((f) => f.path)).toContain(name);
      expect(readFileSync(join(restoredDir, name))).toEqual(readFileSync(join(server.dir, name)));
    }

    // Files 0600 in directories 0700.
    for (const entry of modesUnder(restoredDir)) {
      expect(`${entry.path} ${entry.mode.toString(8)}`).toBe(
        `${entry.path} ${entry.isDir ? '700' : '600'}`,
      );
    }

    const verify = await runCli(['verify', '--data', restoredDir]);
    expect(verify.stdout).toMatch(/chain intact, integrity ok/);
    expect(verify.code).toBe(0);

    const copy = track(await openServerOn(restoredDir));
    for (const vault of vaults) {
      const device = vault.devices[1]!;
      const live = (await vaultOps(server, device)).filter(
        (op) => op.server_sequence <= summary.head_seq,
      );
      const fromRestore = await vaultOps(copy, device);
      expect(fromRestore.length).toBeGreaterThan(0);
      expect(fromRestore).toEqual(live);
    }
    // Every blob the copied database knows is there, byte for byte; the ones uploaded
    // before the backup started are among them.
    expect(restoredBlobs.length).toBe(summary.blobs);
    const before = [...blobs.keys()].slice(0, vaults.length);
    for (const sha of before) expect(restoredBlobs).toContain(sha);
    for (const sha of restoredBlobs) {
      const res = await downloadBlob(copy, owners.get(sha)!, sha);
      expect(res.status).toBe(200);
      expect(sha256(res.bytes)).toBe(sha);
      expect(res.bytes.equals(blobs.get(sha)!)).toBe(true);
    }

    // A new epoch, shown by health.
    const health = await copy.app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(health.json<{ log_epoch: string }>().log_epoch).toBe(restoreSummary.epoch);
    expect(restoreSummary.epoch).not.toBe(manifest.log.epoch);
    expect(restoreSummary.previous_epoch).toBe(manifest.log.epoch);
  }, 180_000);
});

describe('restore refuses', () => {
  it('a flipped byte anywhere, naming the archive or the damaged member; nothing is restored', async () => {
    const { server, writer } = await smallServer(12);
    expect((await uploadBlob(server, writer, randomContent(3000))).statusCode).toBe(200);
    const dir = makeTempDir();
    const archive = join(dir, 'good.tar.gz');
    await backupOf(server.dir, archive);
    const size = statSync(archive).size;
    const target = join(dir, 'target');

    // The compressed file: the gzip header (magic, flags, mtime, OS), deflate data, and the
    // trailer (CRC32, length).
    const middle = Math.floor(size / 2);
    for (const position of [
      0,
      3,
      5,
      8,
      9,
      10,
      20,
      middle,
      size - 8,
      size - 6,
      size - 3,
      size - 1,
    ]) {
      const bad = join(dir, `flip-${position}.tar.gz`);
      flipByte(archive, position, bad);
      const result = await restoreOf(bad, target);
      expect(result.code, `flip at ${position}: ${result.stderr}`).not.toBe(0);
      expect(result.stderr).toContain(bad);
      expect(existsSync(target)).toBe(false);
    }

    // A member changed inside an intact gzip stream: the manifest names it.
    for (const member of tarMembers(archive).map((m) => m.name)) {
      const bad = join(dir, `member-${member.replaceAll('/', '_')}.tar.gz`);
      flipInMember(archive, member, bad);
      const result = await restoreOf(bad, target);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(
        member === 'manifest.json' ? 'manifest.json' : `${member} does not match the manifest`,
      );
      expect(existsSync(target)).toBe(false);
    }
    expect(readdirSync(dir).filter((n) => n.startsWith('target'))).toEqual([]);

    const good = await restoreOf(archive, target);
    expect(good.code).toBe(0);
  }, 120_000);

  it('a non-empty data directory unless --force, which keeps the old one aside', async () => {
    const { server } = await smallServer(5);
    const dir = makeTempDir();
    const archive = join(dir, 'b.tar.gz');
    await backupOf(server.dir, archive);
    const target = join(dir, 'data');
    mkdirSync(target);
    writeFileSync(join(target, 'keep-me.txt'), 'precious');

    const refused = await restoreOf(archive, target);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/is not empty.*--force/);
    expect(readdirSync(target)).toEqual(['keep-me.txt']);

    const forced = await restoreOf(archive, target, '--force');
    expect(forced.code).toBe(0);
    const { kept_aside: aside } = JSON.parse(forced.stdout) as RestoreJson;
    expect(aside).toMatch(/data\.before-restore-\d{8}T\d{6}Z$/);
    expect(dirname(aside!)).toBe(dir);
    expect(readFileSync(join(aside!, 'keep-me.txt'), 'utf8')).toBe('precious');
    expect(existsSync(join(target, 'server.db'))).toBe(true);
    expect(existsSync(join(target, 'keep-me.txt'))).toBe(false);
  }, 60_000);

  it('a directory whose database a running server has open, even with --force', async () => {
    const { server } = await smallServer(5);
    const archive = join(makeTempDir(), 'b.tar.gz');
    await backupOf(server.dir, archive);
    const result = await restoreOf(archive, server.dir, '--force');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/is in use: stop the server/);
    expect(existsSync(join(server.dir, 'server.db'))).toBe(true);
  }, 60_000);
});

describe('after a restore, the log resumes past a gap', () => {
  it('answers cursor_ahead to a device whose cursor the restore lost, even after new pushes', async () => {
    const { server, writer, reader } = await smallServer(14);
    const dir = makeTempDir();
    const archive = join(dir, 'at-14.tar.gz');
    const backup = await backupOf(server.dir, archive);
    expect(backup.head_seq).toBe(14);
    // A device that synced as far as 14 before the loss, and one that saw up to 24.
    const early = (await pull(server, reader, 0, 1000)).json<{ server_sequence: number }>();
    expect(early.server_sequence).toBeLessThanOrEqual(14);
    while (server.runtime.store.head() < 24) await pushAccepted(server, writer, [uniqueOp('lost')]);
    const late = (await pull(server, reader, 0, 1000)).json<{ server_sequence: number }>();
    expect(late.server_sequence).toBe(24);

    const restoredDir = join(dir, 'restored');
    const restored = await restoreOf(archive, restoredDir);
    expect(restored.code).toBe(0);
    const summary = JSON.parse(restored.stdout) as RestoreJson;
    expect(summary.resumed_after).toBeGreaterThanOrEqual(14 + 1_000_000_000);

    const copy = track(await openServerOn(restoredDir));
    for (let i = 0; i < 15; i++) await pushAccepted(copy, writer, [uniqueOp('new')]);
    const newHead = copy.runtime.store.head();
    expect(newHead).toBeGreaterThan(summary.resumed_after);

    const stale = await pull(copy, reader, late.server_sequence);
    expect(stale.statusCode).toBe(409);
    expect(stale.json<{ code: string }>().code).toBe('cursor_ahead');

    // A cursor the restore kept syncs on: it gets exactly the new ops.
    const fresh = await pull(copy, reader, early.server_sequence, 1000);
    expect(fresh.statusCode).toBe(200);
    const page = fresh.json<{ ops: { server_sequence: number; op_id: string }[] }>();
    const newOps = page.ops.filter((op) => op.op_id.startsWith('op-new-'));
    expect(newOps).toHaveLength(15);
    expect(newOps.every((op) => op.server_sequence > summary.resumed_after)).toBe(true);
    expect(page.ops.some((op) => op.op_id.startsWith('op-lost-'))).toBe(false);

    // The chain runs through the one recorded gap.
    const result = verifyLog(copy.runtime.db);
    expect(result.problems).toEqual([]);
    const verify = await runCli(['verify', '--data', restoredDir]);
    expect(verify.code).toBe(0);
  }, 90_000);

  it('restored again over a server that went past an earlier gap: resumes past what it served', async () => {
    const { server, writer, reader } = await smallServer(8);
    const dir = makeTempDir();
    const archive = join(dir, 'at-8.tar.gz');
    await backupOf(server.dir, archive);
    const dataDir = join(dir, 'data');
    const first = JSON.parse((await restoreOf(archive, dataDir)).stdout) as RestoreJson;
    const copy = await openServerOn(dataDir);
    for (let i = 0; i < 5; i++) await pushAccepted(copy, writer, [uniqueOp('second-epoch')]);
    const served = copy.runtime.store.head();
    const seen = (await pull(copy, reader, 0, 1000)).json<{ server_sequence: number }>();
    expect(seen.server_sequence).toBe(served);
    await copy.close();

    const again = await restoreOf(archive, dataDir, '--force');
    expect(again.code).toBe(0);
    const second = JSON.parse(again.stdout) as RestoreJson;
    expect(second.resumed_after).toBeGreaterThanOrEqual(served);
    expect(second.resumed_after).toBeGreaterThan(first.resumed_after);

    const third = track(await openServerOn(dataDir));
    await pushAccepted(third, writer, [uniqueOp('third-epoch')]);
    const stale = await pull(third, reader, seen.server_sequence);
    expect(stale.statusCode).toBe(409);
    expect(verifyLog(third.runtime.db).problems).toEqual([]);
  }, 60_000);

  it('accepts only the recorded gap: moving it makes verify fail', async () => {
    const { server, writer } = await smallServer(6);
    const dir = makeTempDir();
    const archive = join(dir, 'b.tar.gz');
    await backupOf(server.dir, archive);
    const restoredDir = join(dir, 'restored');
    expect((await restoreOf(archive, restoredDir)).code).toBe(0);
    const copy = await openServerOn(restoredDir);
    await pushAccepted(copy, writer, [uniqueOp('x')]);
    await copy.close();
    const db = openDatabase(join(restoredDir, 'server.db'));
    db.prepare("UPDATE log_info SET value = ? WHERE key = 'seq_gaps'").run(
      JSON.stringify([{ after: 6, resumeAfter: 500 }]),
    );
    const problems = verifyLog(db).problems;
    db.close();
    expect(problems[0]?.problem).toMatch(/sequence gap/);
  }, 60_000);
});
