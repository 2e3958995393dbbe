import { execFile, execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../helpers/build.js';
import { freePort } from '../helpers/server.js';

const run = promisify(execFile);
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
const PASSWORD = 'install test admin password';
const APP = 'opt/verstak-sync-server';
const DATA = 'var/lib/verstak-sync-server';
const ETC = 'etc/verstak-server';
const UNIT = 'etc/systemd/system/verstak-server.service';
const LINK = 'usr/local/bin/verstak-sync-server';

// The scripts and the servers they start must not see a listen address of the caller's.
const { VERSTAK_LISTEN: _listen, VERSTAK_PORT: _port, ...cleanEnv } = process.env;

const scratch = mkdtempSync(join(tmpdir(), 'verstak-install-'));
const passFile = join(scratch, 'admin-pass');
const releaseOut = join(scratch, 'release');
const unpackedParent = join(scratch, 'unpacked');
const unpacked = join(unpackedParent, `verstak-sync-server-${VERSION}`);
const tarball = join(releaseOut, `verstak-sync-server-linux-x64-${VERSION}.tar.gz`);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function bash(script: string, args: readonly string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run('bash', [script, ...args], {
      env: cleanEnv,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 150_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : -1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    };
  }
}

async function succeeds(script: string, args: readonly string[]): Promise<Outcome> {
  const outcome = await bash(script, args);
  if (outcome.code !== 0) throw new Error(`${script} ${args.join(' ')} failed:\n${outcome.stderr}`);
  return outcome;
}

const mode = (path: string) => statSync(path).mode & 0o7777;

/** A staging root that names the service user in its own etc/passwd (uid 4242). */
function newRoot(name: string, withUser: boolean): string {
  const root = join(scratch, name);
  mkdirSync(join(root, 'etc'), { recursive: true });
  if (withUser) {
    writeFileSync(
      join(root, 'etc/passwd'),
      'verstak:x:4242:4242::/nonexistent:/usr/sbin/nologin\n',
    );
    writeFileSync(join(root, 'etc/group'), 'verstak:x:4242:\n');
  }
  return root;
}

// Ownership is set only when the scripts run as root (as in the container and CI).
const asRoot = process.getuid?.() === 0;

const hasSystemdAnalyze = (() => {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * `systemd-analyze verify` under the staging root: it resolves ExecStart= there and needs
 * the default targets, so the host's system unit directory is copied in first.
 */
function verifyUnit(root: string): Outcome {
  cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
  try {
    const stdout = execFileSync(
      'systemd-analyze',
      ['verify', `--root=${root}`, '--man=no', `/${UNIT}`],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  } finally {
    rmSync(join(root, 'usr/lib/systemd'), { recursive: true, force: true });
  }
}

beforeAll(async () => {
  writeFileSync(passFile, `${PASSWORD}\n`, { mode: 0o600 });
  // Built once under the shared build lock; release.sh then packages that build.
  await ensureBuilt();
  await succeeds(join(ROOT, 'scripts/release.sh'), [VERSION, '--skip-build', '--out', releaseOut]);
  mkdirSync(unpackedParent);
  execFileSync('tar', ['-xzf', tarball, '-C', unpackedParent]);
}, 240_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('release tarball', () => {
  it('holds the built app, production modules with their native builds, the unit, the scripts and the README; SHA256SUMS matches', () => {
    const entries = execFileSync('tar', ['-tzf', tarball], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    })
      .split('\n')
      .map((line) => line.replace(/^verstak-sync-server-[^/]+\//, ''));
    for (const file of [
      'bin/verstak-sync-server',
      'build/bin/verstak-sync-server',
      'build/app/cli.js',
      'build/views/',
      'build/static/',
      'package.json',
      'package-lock.json',
      'README.md',
      'install.sh',
      'uninstall.sh',
      'verstak-server.service',
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'node_modules/fastify/package.json',
    ]) {
      expect(entries, file).toContain(file);
    }
    expect(entries.some((e) => /^node_modules\/argon2\/.*\.node$/.test(e))).toBe(true);
    // The bundle is the app: the compiled sources beside it are for tests and benches.
    expect(entries.filter((e) => /^build\/(src|scripts|test)\//.test(e))).toEqual([]);
    for (const dev of ['vitest', 'typescript', 'eslint', 'playwright-core', 'prettier']) {
      expect(
        entries.some((e) => e.startsWith(`node_modules/${dev}/`)),
        dev,
      ).toBe(false);
    }
    execFileSync('sha256sum', ['--check', '--strict', 'SHA256SUMS'], {
      cwd: releaseOut,
      stdio: 'ignore',
    });
    expect(readFileSync(join(releaseOut, 'SHA256SUMS'), 'utf8')).toContain(
      `  verstak-sync-server-linux-x64-${VERSION}.tar.gz`,
    );
  });

  it('unpacked, its launcher serves /livez and the health answer on VERSTAK_PORT and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = join(scratch, 'release-data');
    // VERSTAK_PORT alone, as the installed unit's environment file sets it.
    const child = spawn(join(unpacked, 'bin/verstak-sync-server'), ['serve', '--data', dataDir], {
      cwd: scratch,
      env: { ...cleanEnv, VERSTAK_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    try {
      let live: Response | undefined;
      for (let i = 0; i < 300 && child.exitCode === null; i++) {
        live = await fetch(`http://127.0.0.1:${port}/livez`).catch(() => undefined);
        if (live) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(live?.status, output).toBe(200);
      const health = await fetch(`http://127.0.0.1:${port}/api/v1/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({
        status: 'ok',
        version: VERSION,
        database_reachable: true,
      });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, output).toBe(0);
    expect(existsSync(join(dataDir, 'server.db'))).toBe(true);
  });
});

describe('install.sh and uninstall.sh in a staging root', () => {
  const root = join(scratch, 'root');
  const install = join(ROOT, 'scripts/install.sh');

  it('refuses bad arguments before changing anything', async () => {
    const empty = newRoot('refused', false);
    const noStart = await bash(install, ['--root', empty]);
    expect(noStart.code).not.toBe(0);
    expect(noStart.stderr).toMatch(/--no-start/);
    const badPort = await bash(install, ['--root', empty, '--no-start', '--port', '70000']);
    expect(badPort.code).not.toBe(0);
    expect(badPort.stderr).toMatch(/--port 70000/);
    const lonePass = await bash(install, ['--root', empty, '--no-start', '--admin-user', 'admin']);
    expect(lonePass.code).not.toBe(0);
    expect(readdirSync(empty)).toEqual(['etc']);
    expect(readdirSync(join(empty, 'etc'))).toEqual([]);
  });

  it('lays out the app, launcher, env file, key, unit and data directory from the checkout, and creates the admin', async () => {
    newRoot('root', true);
    await succeeds(install, [
      '--root',
      root,
      '--no-start',
      '--port',
      '48123',
      '--admin-user',
      'admin',
      '--admin-pass-file',
      passFile,
    ]);

    // The app: build output, package.json and production modules only, owned by root.
    const app = join(root, APP);
    expect(existsSync(join(app, 'build/bin/verstak-sync-server'))).toBe(true);
    expect(existsSync(join(app, 'package.json'))).toBe(true);
    expect(
      existsSync(join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')),
    ).toBe(true);
    expect(existsSync(join(app, 'node_modules/vitest'))).toBe(false);
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false);
    if (asRoot) expect(statSync(app).uid).toBe(0);
    expect(mode(app) & 0o022).toBe(0);
    expect(readdirSync(join(root, 'opt'))).toEqual(['verstak-sync-server']);

    // The launcher: a relative symlink that works inside the tree and in the real system.
    const link = join(root, LINK);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('../../../opt/verstak-sync-server/bin/verstak-sync-server');
    expect(execFileSync(link, ['--version'], { encoding: 'utf8', env: cleanEnv }).trim()).toBe(
      VERSION,
    );

    // The environment file and the credential key.
    expect(readFileSync(join(root, ETC, 'env'), 'utf8')).toMatch(/^VERSTAK_PORT=48123$/m);
    const key = join(root, ETC, 'secret.key');
    expect(statSync(key).size).toBe(32);
    expect(mode(key)).toBe(0o600);
    if (asRoot) expect(statSync(key).uid).toBe(0);

    // The unit: the user, the hardening, the credential and a stop timeout above the drain.
    const unit = readFileSync(join(root, UNIT), 'utf8');
    for (const line of [
      'User=verstak',
      'Group=verstak',
      'EnvironmentFile=/etc/verstak-server/env',
      'ExecStart=/opt/verstak-sync-server/bin/verstak-sync-server serve --data /var/lib/verstak-sync-server',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ReadWritePaths=/var/lib/verstak-sync-server',
      'PrivateTmp=yes',
      'ProtectHome=yes',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
      'LoadCredential=smtp-key:/etc/verstak-server/secret.key',
      'Restart=on-failure',
      'UMask=0077',
    ]) {
      expect(unit.split('\n'), line).toContain(line);
    }
    const stopTimeout = /^TimeoutStopSec=(\d+)s?$/m.exec(unit);
    expect(Number(stopTimeout?.[1])).toBeGreaterThan(20);
    expect(unit).not.toMatch(/@USER@|@GROUP@|MemoryDenyWriteExecute=yes/);
    if (hasSystemdAnalyze) {
      const verified = verifyUnit(root);
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stderr).toBe('');
    } else {
      console.warn('systemd-analyze is not installed: the unit was not verified');
    }

    // The data directory, owned by the user the tree's etc/passwd names, and the server's files.
    const data = join(root, DATA);
    expect(mode(data)).toBe(0o750);
    for (const path of [
      data,
      join(data, 'server.db'),
      join(data, 'config.yml'),
      join(data, 'blobs'),
    ]) {
      expect(statSync(path).uid, path).toBe(asRoot ? 4242 : process.getuid?.());
      if (asRoot) expect(statSync(path).gid, path).toBe(4242);
    }
    expect(mode(join(data, 'config.yml'))).toBe(0o600);
    expect(mode(join(data, 'server.db'))).toBe(0o600);
    const config = readFileSync(join(data, 'config.yml'), 'utf8');
    expect(config).toMatch(/username: admin/);
    expect(config).toMatch(/password_hash: \$argon2id\$/);
    for (const file of [join(data, 'config.yml'), join(root, ETC, 'env'), join(root, UNIT)]) {
      expect(readFileSync(file, 'utf8')).not.toContain(PASSWORD);
    }
    expect(existsSync(join(root, ETC, 'owner.pending'))).toBe(!asRoot);
  });

  it('a second run, from the unpacked release, upgrades in place and keeps the data, the env file and the key', async () => {
    const launcher = join(root, LINK);
    const data = join(root, DATA);
    const userPass = join(scratch, 'alice-pass');
    writeFileSync(userPass, 'alice password 123\n');
    execFileSync(
      launcher,
      [
        'user',
        'add',
        '--data',
        data,
        '--username',
        'alice',
        '--email',
        'alice@example.com',
        '--password-file',
        userPass,
        '--confirmed',
      ],
      { env: cleanEnv, stdio: 'ignore' },
    );
    const keyBefore = readFileSync(join(root, ETC, 'secret.key'));
    const envBefore = readFileSync(join(root, ETC, 'env'), 'utf8');
    writeFileSync(join(root, APP, 'left-by-the-old-version'), '');

    // No --port and no --admin-user: the upgrade keeps what the first run set.
    await succeeds(join(unpacked, 'install.sh'), ['--root', root, '--no-start']);

    expect(existsSync(join(root, APP, 'left-by-the-old-version'))).toBe(false);
    expect(existsSync(join(root, APP, '.production-modules'))).toBe(true);
    expect(readdirSync(join(root, 'opt'))).toEqual(['verstak-sync-server']);
    expect(readFileSync(join(root, ETC, 'env'), 'utf8')).toBe(envBefore);
    expect(readFileSync(join(root, ETC, 'secret.key')).equals(keyBefore)).toBe(true);
    expect(readFileSync(join(data, 'config.yml'), 'utf8')).toMatch(/username: admin/);
    expect(mode(data)).toBe(0o750);
    expect(statSync(join(data, 'server.db')).uid).toBe(asRoot ? 4242 : process.getuid?.());
    const users = execFileSync(launcher, ['user', 'list', '--data', data, '--json'], {
      encoding: 'utf8',
      env: cleanEnv,
    });
    expect(users).toContain('"alice"');
  });

  it('without the user in the tree, leaves the data directory to the installer and records the intended owner', async () => {
    const bare = newRoot('bare', false);
    const outcome = await succeeds(join(unpacked, 'install.sh'), [
      '--root',
      bare,
      '--no-start',
      '--user',
      'syncsvc',
    ]);
    expect(outcome.stderr).toMatch(/syncsvc is not in/);
    expect(readFileSync(join(bare, ETC, 'owner.pending'), 'utf8').trim()).toBe('syncsvc');
    expect(readFileSync(join(bare, UNIT), 'utf8').split('\n')).toContain('User=syncsvc');
    expect(mode(join(bare, DATA))).toBe(0o750);
    expect(statSync(join(bare, DATA)).uid).toBe(process.getuid?.());
    expect(readFileSync(join(bare, ETC, 'env'), 'utf8')).toMatch(/^VERSTAK_PORT=47732$/m);
    expect(existsSync(join(bare, 'etc/passwd'))).toBe(false);
  });

  it('uninstall keeps the data and the env file; --purge removes them', async () => {
    await succeeds(join(ROOT, 'scripts/uninstall.sh'), ['--root', root]);
    expect(existsSync(join(root, APP))).toBe(false);
    expect(existsSync(join(root, UNIT))).toBe(false);
    expect(existsSync(join(root, LINK))).toBe(false);
    expect(existsSync(join(root, DATA, 'server.db'))).toBe(true);
    expect(existsSync(join(root, ETC, 'env'))).toBe(true);
    expect(existsSync(join(root, ETC, 'secret.key'))).toBe(true);

    await succeeds(join(unpacked, 'uninstall.sh'), ['--root', root, '--purge']);
    expect(existsSync(join(root, DATA))).toBe(false);
    expect(existsSync(join(root, ETC))).toBe(false);
    expect(existsSync(join(root, 'etc/passwd'))).toBe(true);
    expect(readdirSync(join(root, 'opt'))).toEqual([]);
  });
});
