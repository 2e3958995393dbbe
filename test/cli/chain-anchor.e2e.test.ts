import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, storedRowHash, type StoredChainFields } from '../../src/log/hash.js';
import { killServers, pairDevice, pushOps, startServer, uniqueOp } from '../faults/rig.js';
import {
  addUser,
  BIN,
  ensureBuilt,
  freePort,
  makeDataDir,
  makeTempDir,
  removeTempDirs,
  runCli,
  type RunResult,
} from './helpers.js';

// One data directory written by the real CLI, copied for each test: seq 1-3 register alice,
// bob and carol, and each `user add` left the anchor `closed` at its head.
let template: string;

beforeAll(async () => {
  ensureBuilt();
  template = makeDataDir();
  await addUser(template, 'alice');
  await addUser(template, 'bob');
  await addUser(template, 'carol');
}, 180_000);

afterEach(() => killServers());
afterAll(() => removeTempDirs());

function freshCopy(): string {
  const dir = join(makeTempDir(), 'data');
  cpSync(template, dir, { recursive: true });
  return dir;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const anchorOf = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'log-anchor.json'), 'utf8')) as {
    seq: number;
    state: string;
    key_id: string;
    epoch: string;
  };

/** Changes server.db by hand, as someone holding the database but not the key would. */
function withDb(dir: string, change: (db: Database.Database) => void): void {
  const db = new Database(join(dir, 'server.db'));
  change(db);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

const headOf = (dir: string) => {
  const db = new Database(join(dir, 'server.db'), { readonly: true });
  try {
    return db.prepare('SELECT max(seq) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
};

type Row = StoredChainFields & { hash: string; data: string };

/** Recomputes every chain hash from `from` on, so that the whole chain verifies again. */
function rechainFrom(db: Database.Database, from: number): void {
  const rows = db.prepare('SELECT * FROM events WHERE seq >= ? ORDER BY seq').all(from) as Row[];
  let previous = db
    .prepare('SELECT hash FROM events WHERE seq = ?')
    .pluck()
    .get(from - 1) as string | undefined;
  previous ??= '0'.repeat(64);
  const set = db.prepare('UPDATE log_events SET hash = unhex(?) WHERE seq = ?');
  for (const row of rows) {
    previous = storedRowHash(previous, row);
    set.run(previous, row.seq);
  }
}

/** A DevicePaired for alice that chains onto the head: what an attacker would append. */
function appendForgedDevice(db: Database.Database): string {
  const head = db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() as {
    seq: number;
    hash: string;
  };
  const userId = db
    .prepare("SELECT id FROM users WHERE username = 'alice'")
    .pluck()
    .get() as string;
  const deviceId = 'f0f0f0f0f0f0f0f0f0f0f0f0';
  const data = JSON.stringify({
    deviceId,
    userId,
    vaultId: 'notes',
    name: 'attacker laptop',
    clientVersion: 'verstak-desktop/v2',
    tokenHash: sha256('snc_dev_forged'),
    via: 'pair',
    tokenHint: null,
  });
  const event = {
    seq: head.seq + 1,
    stream: `device/${deviceId}`,
    version: 1,
    type: 'DevicePaired',
    schemaVersion: 2,
    dataHash: sha256(data),
    meta: JSON.stringify({ actor: userId }),
    at: new Date().toISOString(),
  };
  db.prepare(
    `INSERT INTO events (seq, stream, version, type, schema_version, data, data_hash, meta, at, hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    event.seq,
    event.stream,
    event.version,
    event.type,
    event.schemaVersion,
    data,
    event.dataHash,
    event.meta,
    event.at,
    chainHash(head.hash, event),
  );
  return deviceId;
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'ECONNREFUSED'));
  });

/** `serve` expected to refuse: its exit code, stderr, and whether the port ever answered. */
async function startRefused(dir: string, env: NodeJS.ProcessEnv = process.env) {
  const port = await freePort();
  const child = spawn(BIN, ['serve', '--data', dir, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
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
  return { code: exitCode, stderr, portOpened };
}

/** The built CLI with its own environment (a systemd credential, or none). */
function runWithEnv(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input = '',
): Promise<RunResult> {
  return new Promise((done) => {
    const child = execFile(BIN, [...args], { timeout: 60_000, env }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      done({ code, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

/** What `verify --json` says of the anchor (and whether the whole check passed). */
async function anchorReport(dir: string, env: NodeJS.ProcessEnv = process.env) {
  const result = await runWithEnv(['verify', '--data', dir, '--json'], env);
  const report = JSON.parse(result.stdout) as {
    ok: boolean;
    anchor: {
      seq: number | null;
      state: string | null;
      findings: { level: string; code: string; message: string }[];
    };
  };
  expect(result.code).toBe(report.ok ? 0 : 1);
  return { ok: report.ok, ...report.anchor };
}

/** verify fails naming `finding`, and serve refuses with it without ever listening. */
async function expectRefused(dir: string, finding: string) {
  const verify = await runCli(['verify', '--data', dir]);
  expect(verify.code).toBe(1);
  const failures = verify.stdout.split('\n').filter((l) => l.startsWith('anchor failure: '));
  expect(failures).toHaveLength(1);
  expect(failures[0]).toContain(finding);
  const json = await runCli(['verify', '--data', dir, '--json']);
  expect(json.code).toBe(1);
  const report = JSON.parse(json.stdout) as {
    ok: boolean;
    anchor: { findings: { level: string; message: string }[] };
  };
  expect(report.ok).toBe(false);
  expect(
    report.anchor.findings.some((f) => f.level === 'failure' && f.message.includes(finding)),
  ).toBe(true);

  // replay rebuilds nothing from it either (unless told --force).
  const replay = await runCli(['replay', '--data', dir]);
  expect(replay.code).toBe(1);
  expect(replay.stderr).toContain(finding);
  expect(replay.stderr).toContain('--force');

  const served = await startRefused(dir);
  expect(served.code).toBe(1);
  expect(served.portOpened).toBe(false);
  const message = served.stderr.trim();
  expect(message.split('\n')).toHaveLength(1);
  expect(message).toContain(join(dir, 'server.db'));
  expect(message).toContain(finding);
  return message;
}

describe('the anchor of a log written by the CLI', () => {
  it('verifies an untouched log and names the anchor', async () => {
    const dir = freshCopy();
    expect(anchorOf(dir)).toMatchObject({ seq: 3, state: 'closed' });
    const result = await runCli(['verify', '--data', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('3 events, chain intact, integrity ok (log format 2)\n');
    expect(await anchorReport(dir)).toMatchObject({
      ok: true,
      seq: 3,
      state: 'closed',
      findings: [],
    });
  });

  it('(1) catches the last events deleted', async () => {
    const dir = freshCopy();
    withDb(dir, (db) => db.prepare('DELETE FROM log_events WHERE seq = 3').run());
    // The chain itself is intact: only the anchor knows the log was longer.
    expect((await runCli(['verify', '--data', dir])).stdout).toContain('chain intact');
    const message = await expectRefused(
      dir,
      'truncated: the anchor names seq 3, the log ends at 2',
    );
    expect(message).toContain(join(dir, 'log-anchor.json'));
    expect(message).toContain(`verstak-sync-server verify --data ${dir}`);
    expect(message).toContain('restore the data directory from a backup');
  }, 90_000);

  it('(2) catches an event edited with every later hash recomputed', async () => {
    const dir = freshCopy();
    withDb(dir, (db) => {
      const data = (
        db.prepare('SELECT data FROM events WHERE seq = 2').pluck().get() as string
      ).replace('bob@example.com', 'mallory@evil.test');
      db.prepare('UPDATE log_events SET data = ?, data_hash = unhex(?) WHERE seq = 2').run(
        data,
        sha256(data),
      );
      rechainFrom(db, 2);
    });
    expect((await runCli(['verify', '--data', dir])).stdout).toContain('chain intact');
    await expectRefused(dir, 're-chained or edited at or before seq 3');
  }, 90_000);

  it('(3) catches a correctly chained DevicePaired appended after a clean shutdown', async () => {
    const dir = freshCopy();
    withDb(dir, (db) => appendForgedDevice(db));
    expect((await runCli(['verify', '--data', dir])).stdout).toContain('4 events, chain intact');
    await expectRefused(
      dir,
      '1 event(s) after the clean-shutdown anchor at seq 3 were appended without the key (seq 4..4)',
    );
    // A command does not anchor (and so launder) the forgery: it appends nothing.
    const added = await runCli(
      [
        'user',
        'add',
        '--data',
        dir,
        '--username',
        'dave',
        '--email',
        'dave@example.com',
        '--password-stdin',
      ],
      { input: 'correct horse battery\n' },
    );
    expect(added.code).toBe(1);
    expect(added.stderr).toContain('were appended without the key');
    expect(added.stderr).toContain('nothing was appended');
    expect(headOf(dir)).toBe(4);
    expect(anchorOf(dir)).toMatchObject({ seq: 3, state: 'closed' });
  }, 90_000);

  it('(4a) catches an anchor file whose MAC does not verify', async () => {
    const dir = freshCopy();
    // Rolled forward by hand past a forged event: the MAC no longer matches.
    withDb(dir, (db) => appendForgedDevice(db));
    const file = join(dir, 'log-anchor.json');
    const anchor = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const db = new Database(join(dir, 'server.db'), { readonly: true });
    const head = db.prepare('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() as {
      seq: number;
      hash: string;
    };
    db.close();
    writeFileSync(file, JSON.stringify({ ...anchor, seq: head.seq, hash: head.hash }));
    await expectRefused(dir, 'anchor file forged or damaged');
  }, 90_000);

  it('(4b) catches an anchor made with another key, naming both', async () => {
    const dir = freshCopy();
    const other = makeDataDir();
    await addUser(other, 'zed');
    copyFileSync(join(other, 'log-anchor.json'), join(dir, 'log-anchor.json'));
    const theirs = anchorOf(other).key_id;
    const ours = anchorOf(template).key_id;
    expect(theirs).not.toBe(ours);
    const message = await expectRefused(dir, `was made with key ${theirs}`);
    expect(message).toContain(`${join(dir, 'secret.key')} holds key ${ours}`);
    expect(message).toContain('LoadCredential=smtp-key:');
  }, 90_000);
});

describe('the server keeps the anchor', () => {
  it('starts after a kill -9 under pushes (the unanchored tail is a note), and after a clean stop', async () => {
    const dir = freshCopy();
    let server = await startServer(dir);
    // At start: a command beside it or a crash now leaves an `open` anchor.
    expect(anchorOf(dir)).toMatchObject({ seq: 3, state: 'open' });
    const device = await pairDevice(server, 'alice', 'notes', 'laptop', '127.0.0.1');
    let pushed = 0;
    // Pushes until the server has anchored at least once past the pairing, then a few more.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (anchorOf(dir).seq <= 4 || pushed < 20)) {
      const res = await pushOps(server, device, [uniqueOp(`op${pushed}`, `content ${pushed}`)]);
      expect(res.status).toBe(200);
      pushed += 1;
    }
    expect(anchorOf(dir).seq).toBeGreaterThan(4);
    const inFlight = pushOps(server, device, [uniqueOp('last', 'cut by the kill')]).catch(
      () => undefined,
    );
    await server.stop('SIGKILL');
    await inFlight;

    const anchor = anchorOf(dir);
    expect(anchor.state).toBe('open');
    const head = headOf(dir);
    const verify = await runCli(['verify', '--data', dir]);
    expect(verify.code).toBe(0);
    if (head > anchor.seq) {
      expect(verify.stdout).toContain(
        `note: ${head - anchor.seq} event(s) after the last anchor at seq ${anchor.seq} (seq ${anchor.seq + 1}..${head}) are chained but not anchored`,
      );
    } else {
      expect(verify.stdout).toBe(`${head} events, chain intact, integrity ok (log format 2)\n`);
      expect(await anchorReport(dir)).toMatchObject({ ok: true, seq: head, state: 'open' });
    }

    server = await startServer(dir);
    const res = await pushOps(server, device, [uniqueOp('after-restart', 'x')]);
    expect(res.status).toBe(200);
    await server.stop('SIGTERM');
    expect(server.child.exitCode).toBe(0);
    expect(anchorOf(dir)).toMatchObject({ seq: headOf(dir), state: 'closed' });

    server = await startServer(dir);
    await server.stop('SIGTERM');
    expect(await anchorReport(dir)).toMatchObject({
      ok: true,
      seq: headOf(dir),
      state: 'closed',
      findings: [],
    });
  }, 120_000);

  it('stays happy with commands run while it is stopped, and while it runs then dies', async () => {
    const dir = freshCopy();
    await addUser(dir, 'dave');
    expect(anchorOf(dir)).toMatchObject({ seq: 4, state: 'closed' });
    let server = await startServer(dir);
    // A command beside the running server leaves the anchor open: the server may append after it.
    await addUser(dir, 'erin');
    expect(anchorOf(dir)).toMatchObject({ seq: 5, state: 'open' });
    await pairDevice(server, 'erin', 'notes', 'laptop', '127.0.0.1');
    await server.stop('SIGKILL');
    server = await startServer(dir);
    await server.stop('SIGTERM');
    expect(anchorOf(dir)).toMatchObject({ seq: headOf(dir), state: 'closed' });
    expect((await runCli(['verify', '--data', dir])).code).toBe(0);
  }, 120_000);

  it('anchors a log that has none on its first start (trust on first use), saying so', async () => {
    const dir = freshCopy();
    rmSync(join(dir, 'log-anchor.json'));
    const verify = await runCli(['verify', '--data', dir]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain(`note: no anchor file ${join(dir, 'log-anchor.json')}`);
    const server = await startServer(dir);
    expect(server.output()).toContain('trust on first use');
    expect(anchorOf(dir)).toMatchObject({ seq: 3, state: 'open' });
    await server.stop('SIGTERM');
    expect(anchorOf(dir)).toMatchObject({ seq: 3, state: 'closed' });
  }, 90_000);
});

describe('the key of the anchor', () => {
  it('is never replaced: without the credential a command refuses to append; with it, it works', async () => {
    const dir = freshCopy();
    // The server's key lives in a systemd credential, not in the data directory.
    const credentials = join(makeTempDir(), 'credentials');
    mkdirSync(credentials);
    copyFileSync(join(dir, 'secret.key'), join(credentials, 'smtp-key'));
    rmSync(join(dir, 'secret.key'));
    const { CREDENTIALS_DIRECTORY: _none, ...bare } = process.env;
    const add = [
      'user',
      'add',
      '--data',
      dir,
      '--username',
      'dave',
      '--email',
      'd@example.com',
      '--password-stdin',
    ];

    const refused = await runWithEnv(add, bare, 'correct horse battery\n');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `${join(dir, 'log-anchor.json')} was made with key ${anchorOf(dir).key_id}`,
    );
    expect(refused.stderr).toContain('LoadCredential=smtp-key:');
    expect(existsSync(join(dir, 'secret.key'))).toBe(false);
    expect(headOf(dir)).toBe(3);
    // Reading needs no key.
    expect((await runWithEnv(['user', 'list', '--data', dir], bare)).code).toBe(0);
    const noKey = await startRefused(dir, bare);
    expect(noKey.code).toBe(1);
    expect(noKey.portOpened).toBe(false);
    expect(noKey.stderr).toContain('cannot read a key');

    const withKey = { ...bare, CREDENTIALS_DIRECTORY: credentials };
    const added = await runWithEnv(add, withKey, 'correct horse battery\n');
    expect(added.code).toBe(0);
    expect(anchorOf(dir)).toMatchObject({ seq: 4, state: 'closed' });
    expect(await anchorReport(dir, withKey)).toMatchObject({ ok: true, seq: 4, findings: [] });
    // Without the key, verify cannot vouch for the anchor.
    expect(await anchorReport(dir, bare)).toMatchObject({
      ok: false,
      findings: [expect.objectContaining({ code: 'no_key' })],
    });
  }, 90_000);
});

describe('restore', () => {
  it('anchors the restored log afresh, in its new epoch', async () => {
    const dir = freshCopy();
    const archive = join(makeTempDir(), 'backup.tar.gz');
    expect((await runCli(['backup', '--data', dir, '--out', archive])).code).toBe(0);
    const target = join(makeTempDir(), 'restored');
    const restored = await runCli(['restore', '--from', archive, '--data', target, '--json']);
    expect(restored.code).toBe(0);
    const { epoch } = JSON.parse(restored.stdout) as { epoch: string };
    expect(anchorOf(target)).toMatchObject({ seq: 3, state: 'closed', epoch });
    expect(await anchorReport(target)).toMatchObject({ ok: true, seq: 3, findings: [] });
    const server = await startServer(target);
    await server.stop('SIGTERM');
    expect(server.child.exitCode).toBe(0);
  }, 120_000);
});
