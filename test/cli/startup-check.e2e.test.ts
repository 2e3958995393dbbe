import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  writeSync,
  closeSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canMountTmpfs } from '../helpers/tmpfs.js';
import {
  addUser,
  BIN,
  ensureBuilt,
  freePort,
  makeDataDir,
  makeTempDir,
  removeTempDirs,
  startServer,
  stopServers,
  writeSecret,
} from './helpers.js';

// One seeded data directory, copied for each test: three registered users (seq 1-3).
let template: string;
let passFile: string;

beforeAll(async () => {
  ensureBuilt();
  template = makeDataDir();
  await addUser(template, 'alice');
  await addUser(template, 'bob');
  await addUser(template, 'carol');
  passFile = writeSecret(makeTempDir(), 'admin-pass', 'admin password for tests');
}, 180_000);

afterEach(() => stopServers());
afterAll(() => removeTempDirs());

function freshCopy(): string {
  const dir = join(makeTempDir(), 'data');
  cpSync(template, dir, { recursive: true });
  return dir;
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/**
 * What the database holds: server.db's bytes and the WAL's. A read-only connection may
 * create an empty WAL and its index, which hold nothing.
 */
const dbDigests = (dir: string) => {
  const wal = join(dir, 'server.db-wal');
  return {
    db: sha256(readFileSync(join(dir, 'server.db'))),
    wal: existsSync(wal) ? readFileSync(wal).length : 0,
  };
};

const headSeq = (dir: string) => {
  const db = new Database(join(dir, 'server.db'), { readonly: true });
  try {
    return db.prepare('SELECT max(seq) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
};

function tamper(dir: string, sql: string, ...params: unknown[]) {
  const db = new Database(join(dir, 'server.db'));
  expect(db.prepare(sql).run(...params).changes).toBe(1);
  // Folded into server.db, as a copy taken after a clean stop would be.
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

const refused = (code: string) => code === 'ECONNREFUSED';

/** True when something accepts a connection on the port. */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(!refused(err.code ?? '')));
  });

/**
 * Starts `serve` on a data directory expected to be refused, probing its port until it
 * exits (bounded): the exit code, what it wrote, and whether the port ever answered.
 */
async function startRefused(dir: string) {
  const port = await freePort();
  const child = spawn(BIN, ['serve', '--data', dir, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  let portOpened = false;
  const deadline = Date.now() + 30_000;
  while (exitCode === undefined && Date.now() < deadline) {
    if (await listening(port)) portOpened = true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (exitCode === undefined) child.kill('SIGKILL');
  await exited;
  if (await listening(port)) portOpened = true;
  return { code: exitCode, stdout, stderr, portOpened };
}

describe('a damaged log at start-up', () => {
  it("refuses to start when the newest event's data was altered, and opens no port", async () => {
    const dir = freshCopy();
    const head = headSeq(dir);
    tamper(dir, "UPDATE log_events SET data = json_set(data, '$.tampered', 1) WHERE seq = ?", head);
    const before = dbDigests(dir);
    const result = await startRefused(dir);
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.portOpened).toBe(false);
    const message = result.stderr.trim();
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toContain(join(dir, 'server.db'));
    expect(message).toContain(`seq ${head}: data does not match its data_hash`);
    expect(message).toContain(`verstak-sync-server verify --data ${dir}`);
    expect(message).toContain('restore the data directory from a backup');
    // Checked read-only: nothing was migrated, projected or checkpointed into it.
    expect(dbDigests(dir)).toEqual(before);
  }, 60_000);

  it('refuses a tail whose data_hash was rewritten to match (the chain catches it)', async () => {
    const dir = freshCopy();
    const head = headSeq(dir);
    const db = new Database(join(dir, 'server.db'));
    const stored = db.prepare('SELECT data FROM events WHERE seq = ?').pluck().get(head) as string;
    const data = JSON.stringify({ ...(JSON.parse(stored) as object), tampered: true });
    db.prepare('UPDATE events SET data = ?, data_hash = ? WHERE seq = ?').run(
      data,
      sha256(data),
      head,
    );
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const result = await startRefused(dir);
    expect(result.code).not.toBe(0);
    expect(result.portOpened).toBe(false);
    expect(result.stderr).toContain(`seq ${head}: hash chain broken`);
  }, 60_000);

  it('refuses a log whose newest event is missing its predecessor (a gap)', async () => {
    const dir = freshCopy();
    const head = headSeq(dir);
    tamper(dir, 'DELETE FROM log_events WHERE seq = ?', head - 1);
    const result = await startRefused(dir);
    expect(result.code).not.toBe(0);
    expect(result.portOpened).toBe(false);
    expect(result.stderr).toContain(`seq ${head - 1}: missing (sequence gap)`);
  }, 60_000);

  it('refuses a database SQLite finds corrupt', async () => {
    const dir = freshCopy();
    const file = join(dir, 'server.db');
    const db = new Database(file);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const rootPage = db
      .prepare("SELECT rootpage FROM sqlite_master WHERE name = 'log_events'")
      .pluck()
      .get() as number;
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    // Garbage over the events table's b-tree page header, as a bad disk sector would leave.
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(64, 0x5a), 0, 64, (rootPage - 1) * pageSize);
    closeSync(fd);
    const result = await startRefused(dir);
    expect(result.code).not.toBe(0);
    expect(result.portOpened).toBe(false);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toContain('database corrupt');
    expect(result.stderr).toContain('restore');
  }, 60_000);
});

describe('a database that cannot be opened', () => {
  it('names the file, the cause and what to do when a directory stands in its place', async () => {
    const dir = join(makeTempDir(), 'data');
    mkdirSync(join(dir, 'server.db'), { recursive: true });
    const result = await startRefused(dir);
    expect(result.code).toBe(1);
    expect(result.portOpened).toBe(false);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(
      `${join(dir, 'server.db')} is a directory, not a database file`,
    );
    expect(result.stderr).toContain('move it out of the way');
  }, 60_000);

  it.skipIf(!canMountTmpfs())(
    'says read-only, and what to do, on a read-only file system',
    async () => {
      const mount = makeTempDir();
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mount]);
      try {
        const dir = join(mount, 'data');
        cpSync(freshCopy(), dir, { recursive: true });
        execFileSync('mount', ['-o', 'remount,ro', mount]);
        const result = await startRefused(dir);
        expect(result.code).toBe(1);
        expect(result.portOpened).toBe(false);
        expect(result.stderr).toContain(`${join(dir, 'server.db')} is read-only to this process`);
        expect(result.stderr).toContain('not mounted read-only');
      } finally {
        execFileSync('umount', ['-l', mount]);
      }
    },
    60_000,
  );
});

describe('a healthy data directory', () => {
  it('starts, and the leftovers of a crash are gone while live files stay', async () => {
    const dir = freshCopy();
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const hourAgo = new Date(Date.now() - 3_600_000);
    const aged = (path: string, content = 'x') => {
      writeFileSync(path, content);
      utimesSync(path, hourAgo, hourAgo);
      return path;
    };
    // pid 999999999 is above any pid_max: the upload's writer cannot be running.
    const deadUpload = aged(join(tmp, 'blob-999999999-0a1b2c'));
    const liveUpload = aged(join(tmp, `blob-${process.pid}-0a1b2c`));
    const oldScratch = [
      aged(join(tmp, 'replay-0123456789abcdef.db')),
      aged(join(tmp, 'replay-0123456789abcdef.db-wal')),
      aged(join(tmp, 'replay-0123456789abcdef.db-shm')),
    ];
    // A replay running beside the server: its database is old, its WAL just written.
    const liveScratch = [
      aged(join(tmp, 'replay-fedcba9876543210.db')),
      join(tmp, 'replay-fedcba9876543210.db-wal'),
    ];
    writeFileSync(liveScratch[1]!, 'x');
    const halfSavedConfig = aged(join(dir, 'config.yml.tmp'), 'admin: []\n');
    const unknown = aged(join(tmp, 'operator-notes.txt'));
    // Retention crashed while judging two content files: one is back at its address, the
    // other's address was taken by an upload meanwhile, so the aside copy is dropped.
    // Fresh files: the start's retention run leaves recently touched content alone.
    const shaA = 'ab'.repeat(32);
    const shaB = 'cd'.repeat(32);
    const blobDir = (sha: string) => join(dir, 'blobs', sha.slice(0, 2), sha.slice(2, 4));
    for (const sha of [shaA, shaB]) mkdirSync(blobDir(sha), { recursive: true });
    writeFileSync(join(blobDir(shaA), `${shaA}.removing-999999999`), 'content a');
    writeFileSync(join(blobDir(shaB), `${shaB}.removing-999999999`), 'old copy b');
    writeFileSync(join(blobDir(shaB), shaB), 'content b');

    const server = await startServer(dir, passFile);
    const health = await fetch(`http://127.0.0.1:${server.port}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(server.output()).toContain('start-up check passed');

    for (const gone of [deadUpload, ...oldScratch, halfSavedConfig]) {
      expect(existsSync(gone), gone).toBe(false);
    }
    for (const kept of [liveUpload, ...liveScratch, unknown]) {
      expect(existsSync(kept), kept).toBe(true);
    }
    expect(readdirSync(tmp).sort()).toEqual(
      [
        'blob-' + process.pid + '-0a1b2c',
        'operator-notes.txt',
        'replay-fedcba9876543210.db',
        'replay-fedcba9876543210.db-wal',
      ].sort(),
    );
    expect(statSync(join(dir, 'config.yml')).isFile()).toBe(true);
    expect(readdirSync(blobDir(shaA))).toEqual([shaA]);
    expect(readFileSync(join(blobDir(shaA), shaA), 'utf8')).toBe('content a');
    expect(readdirSync(blobDir(shaB))).toEqual([shaB]);
    expect(readFileSync(join(blobDir(shaB), shaB), 'utf8')).toBe('content b');
    expect(await server.stop()).toBe(0);
  }, 60_000);

  it('starts on a brand-new data directory', async () => {
    const dir = join(makeTempDir(), 'new-data');
    const server = await startServer(dir, passFile);
    expect(server.output()).toContain('start-up check passed');
    expect(await server.stop()).toBe(0);
  }, 60_000);
});
