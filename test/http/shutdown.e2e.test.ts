import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CATALOGUE, createEventStore, openDatabase } from '../../src/log/index.js';
import { ensureBuilt } from '../helpers/build.js';
import {
  exitWithin,
  logLines,
  startServer,
  waitForHealth,
  type ServerProcess,
} from '../helpers/server.js';

const MiB = 1024 * 1024;
const ADMIN_PASSWORD = 'admin-password-on-file';

let dirs: string[] = [];
let servers: ServerProcess[] = [];
afterEach(async () => {
  for (const server of servers) {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  servers = [];
  dirs = [];
});

function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'verstak-e2e-'));
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string, args: string[]) {
  const server = await startServer(['--data', dataDir, '--admin-user', 'admin', ...args]);
  servers.push(server);
  await waitForHealth(server);
  return server;
}

/** A GET on a keep-alive agent; the socket stays open, idle, after the answer. */
function keepAliveGet(port: number, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/livez', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

/**
 * Writes ~2 MiB of events through a second connection that never checkpoints, so the WAL
 * is big until the server's own shutdown checkpoint.
 */
function growWal(dataDir: string): number {
  const db = openDatabase(join(dataDir, 'server.db'), { mustExist: true });
  try {
    db.pragma('wal_autocheckpoint = 0');
    const store = createEventStore(db, CATALOGUE);
    const padding = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 128; i++) {
      const data = {
        userId: `wal${i}`,
        username: `wal${i}`,
        email: `wal${i}@example.org`,
        passwordHash: padding,
        confirmed: false,
        locale: 'en',
        registeredBy: 'operator' as const,
      };
      store.append(
        [{ stream: `user/wal${i}`, events: [{ type: 'UserRegistered', data }] }],
        { actor: 'test' },
        new Date(),
      );
    }
  } finally {
    db.close();
  }
  return statSync(join(dataDir, 'server.db-wal')).size;
}

describe('the server binary', () => {
  beforeAll(ensureBuilt, 180_000);

  it('stops cleanly on SIGTERM with a keep-alive connection open, checkpointing the WAL', async () => {
    const dataDir = tempDir();
    const passFile = join(tempDir(), 'admin-pass');
    writeFileSync(passFile, `${ADMIN_PASSWORD}\n`);
    const server = await start(dataDir, [
      '--admin-pass-file',
      passFile,
      '--public-url',
      'https://sync.example.test',
    ]);

    const agent = new Agent({ keepAlive: true });
    try {
      expect(await keepAliveGet(server.port, agent)).toBe(200);
      expect(Object.values(agent.freeSockets).flat()).toHaveLength(1);
      expect(growWal(dataDir)).toBeGreaterThan(MiB);

      server.child.kill('SIGTERM');
      // A hang detector, not a timing assertion: RELIABILITY.md R7 allows 10 s.
      expect(await exitWithin(server, 10_000)).toEqual({ code: 0, signal: null });
    } finally {
      agent.destroy();
    }

    const wal = join(dataDir, 'server.db-wal');
    expect(existsSync(wal) ? statSync(wal).size : 0).toBeLessThanOrEqual(MiB);
    expect(server.stderr()).toBe('');
    const lines = logLines(server);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(lines.map((l) => l.msg)).toContain('shutting down');
  });

  it('keeps only an argon2id hash of the admin password in config.yml', async () => {
    const dataDir = tempDir();
    const passFile = join(tempDir(), 'admin-pass');
    writeFileSync(passFile, `${ADMIN_PASSWORD}\n`);
    const server = await start(dataDir, ['--admin-pass-file', passFile]);

    const configFile = join(dataDir, 'config.yml');
    const config = readFileSync(configFile, 'utf8');
    expect(config).toContain('username: admin');
    expect(config).toMatch(/\$argon2id\$v=19\$m=19456,[^\s]*\$/);
    expect(config).not.toContain(ADMIN_PASSWORD);
    expect(statSync(configFile).mode & 0o077).toBe(0);
    server.child.kill('SIGTERM');
    expect(await exitWithin(server, 10_000)).toEqual({ code: 0, signal: null });
  });

  it('warns on stderr that --admin-pass is visible to other local users', async () => {
    const dataDir = tempDir();
    const server = await start(dataDir, ['--admin-pass', 'password-on-the-command-line']);
    expect(server.stderr()).toMatch(/warning: --admin-pass .*command line.*other local users/);
    expect(readFileSync(join(dataDir, 'config.yml'), 'utf8')).not.toContain(
      'password-on-the-command-line',
    );
    server.child.kill('SIGTERM');
    expect(await exitWithin(server, 10_000)).toEqual({ code: 0, signal: null });
  });
});
