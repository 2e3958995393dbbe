import { randomInt } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addUser, ensureBuilt, makeDataDir, makeTempDir, removeTempDirs } from '../cli/helpers.js';
import {
  checkStore,
  httpCall,
  killServers,
  pairDevice,
  pullAll,
  pullPage,
  pushOps,
  readLog,
  startServer,
  uniqueOp,
  type Device,
  type LoggedEvent,
} from './rig.js';

// RELIABILITY.md R3 (a)-(c); (d), a corrupt main database, is test/cli/startup-check.e2e.test.ts.
const EVENTS = 1000;
const BATCH = 50;

let crashed: string;
let preCrash: LoggedEvent[];
let device: Device;
let acked: string[];

beforeAll(async () => {
  ensureBuilt();
  const dataDir = makeDataDir();
  await addUser(dataDir, 'alice');
  const server = await startServer(dataDir);
  device = await pairDevice(server, 'alice', 'vault-1', 'laptop', '127.0.0.2');

  // The server's checkpoint worker cannot be switched off from outside, so a reader holds a
  // snapshot taken before the pushes: no checkpoint may copy a frame committed after it, and
  // the WAL keeps every one of them. Everything before (the user, the pairing) is
  // checkpointed first, so the variants below can only lose pushes.
  const reader = new Database(join(dataDir, 'server.db'));
  reader.pragma('wal_checkpoint(FULL)');
  reader.exec('BEGIN');
  const inMainFile = reader.prepare('SELECT count(*) FROM events').pluck().get() as number;

  acked = [];
  for (let b = 0; b < EVENTS / BATCH; b++) {
    const ops = Array.from({ length: BATCH }, (_, i) =>
      uniqueOp(`op-${b}-${i}`, `batch ${b} op ${i}`),
    );
    const res = await pushOps(server, device, ops);
    expect(res.status).toBe(200);
    acked.push(...ops.map((o) => o.op_id));
  }
  await server.stop('SIGKILL');

  crashed = join(makeTempDir(), 'crashed');
  cpSync(dataDir, crashed, { recursive: true });
  reader.exec('COMMIT');
  reader.close();

  // The pushes are in the WAL only: the main file alone still has the snapshot's events.
  const walSize = statSync(join(crashed, 'server.db-wal')).size;
  expect(walSize).toBeGreaterThan(EVENTS * 100);
  const mainOnly = join(makeTempDir(), 'main-only');
  mkdirSync(mainOnly);
  cpSync(join(crashed, 'server.db'), join(mainOnly, 'server.db'));
  expect(readLog(mainOnly)).toHaveLength(inMainFile);

  const reference = join(makeTempDir(), 'reference');
  cpSync(crashed, reference, { recursive: true });
  preCrash = readLog(reference);
  expect(preCrash.length).toBeGreaterThanOrEqual(inMainFile + EVENTS);
  console.log(
    `R3: WAL of ${walSize} bytes after kill -9; ${preCrash.length} events, ${inMainFile} in the main file`,
  );
}, 180_000);

afterEach(() => killServers());
afterAll(async () => {
  await killServers();
  removeTempDirs();
});

function variant(name: string, damage: (dir: string) => string): string {
  const dir = join(makeTempDir(), name);
  cpSync(crashed, dir, { recursive: true });
  console.log(`R3 ${name}: ${damage(dir)}`);
  return dir;
}

async function expectRecoveredPrefix(dir: string): Promise<number> {
  // A copy shows what the damaged directory holds before the server adds anything.
  const probe = join(makeTempDir(), 'probe');
  cpSync(dir, probe, { recursive: true });
  const recovered = readLog(probe);
  const k = recovered.length;
  expect(recovered).toEqual(preCrash.slice(0, k));

  const server = await startServer(dir, 10_000);
  // Every op the recovered log holds is served, in order, and nothing else.
  const ops = await pullAll(server, device);
  const served = ops.map((op) => op.op_id);
  expect(served).toEqual(acked.slice(0, served.length));
  expect(ops.at(-1)?.server_sequence ?? 0).toBeLessThanOrEqual(k);

  // A device that had seen more than the recovered head is told so, not given an empty page.
  const cursors = [k + 1, ...(preCrash.length > k ? [preCrash.length] : [])];
  for (const cursor of cursors) {
    const res = await pullPage(server, device, cursor);
    expect(res.status, `cursor ${cursor} over head ${k}`).toBe(409);
    expect(res.body.code).toBe('cursor_ahead');
  }
  // It keeps working: a new push is stored after the recovered head.
  const after = await pushOps(server, device, [uniqueOp(`after-${randomInt(1e9)}`, 'after')]);
  expect(after.status).toBe(200);
  expect((await httpCall(server, 'GET', '/api/v1/health')).status).toBe(200);
  await server.stop('SIGTERM');

  await checkStore(dir);
  expect(readLog(dir).slice(0, k)).toEqual(preCrash.slice(0, k));
  return k;
}

describe('R3: a torn or damaged WAL and a missing shm after kill -9', () => {
  it('(a) the WAL truncated at a random offset: starts, verifies, serves a prefix', async () => {
    const dir = variant('truncated-wal', (d) => {
      const wal = join(d, 'server.db-wal');
      const at = randomInt(32, statSync(wal).size);
      truncateSync(wal, at);
      return `-wal truncated at byte ${at}`;
    });
    const k = await expectRecoveredPrefix(dir);
    console.log(`R3 truncated-wal: recovered ${k} of ${preCrash.length} events`);
  }, 60_000);

  it('(b) one byte flipped in the last 10% of the WAL: starts, verifies, serves a prefix', async () => {
    const dir = variant('flipped-wal', (d) => {
      const wal = join(d, 'server.db-wal');
      const bytes = readFileSync(wal);
      const at = randomInt(Math.floor(bytes.length * 0.9), bytes.length);
      bytes[at]! ^= 1 << randomInt(8);
      writeFileSync(wal, bytes);
      return `-wal byte ${at} of ${bytes.length} flipped`;
    });
    const k = await expectRecoveredPrefix(dir);
    // The frames before the damaged one are intact, so most of the log survives.
    expect(k).toBeGreaterThan(preCrash.length / 2);
    console.log(`R3 flipped-wal: recovered ${k} of ${preCrash.length} events`);
  }, 60_000);

  it('(c) the -shm deleted: starts, verifies, loses nothing', async () => {
    const dir = variant('no-shm', (d) => {
      const shm = join(d, 'server.db-shm');
      const had = existsSync(shm);
      rmSync(shm, { force: true });
      return had ? '-shm deleted' : 'there was no -shm';
    });
    const k = await expectRecoveredPrefix(dir);
    expect(k).toBe(preCrash.length);
  }, 60_000);
});
