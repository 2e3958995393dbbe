import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openRuntime } from '../../src/runtime.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'build/bin/verstak-sync-server');

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

const isStale = () =>
  !existsSync(BIN) ||
  Math.max(
    ...['src', 'scripts/build.sh', 'scripts/bundle.ts'].map((path) =>
      newestMtime(join(ROOT, path)),
    ),
  ) > statSync(BIN).mtimeMs;

/**
 * Builds the binary when it is missing or older than src/. Test files run in parallel, so
 * a lock directory makes one of them build while the others wait and then find it fresh.
 */
export function ensureBuilt(): void {
  if (!isStale()) return;
  const lock = join(
    tmpdir(),
    `verstak-build-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.lock`,
  );
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (isStale()) execFileSync(join(ROOT, 'scripts/build.sh'), { cwd: ROOT, stdio: 'inherit' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built binary to completion; `input` is written to its standard input. */
export function runCli(
  args: readonly string[],
  options: { input?: string } = {},
): Promise<RunResult> {
  return new Promise((done) => {
    const child = execFile(BIN, [...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      done({ code, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

/** Parses JSON-lines output. */
export const jsonLines = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const tempDirs: string[] = [];

export function makeTempDir(prefix = 'verstak-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A data directory with an empty log, as the server leaves it after its first start. */
export function makeDataDir(): string {
  const dataDir = join(makeTempDir(), 'data');
  openRuntime({ dataDir }).close();
  return dataDir;
}

export function writeSecret(dir: string, name: string, secret: string): string {
  const file = join(dir, name);
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return file;
}

export async function addUser(
  dataDir: string,
  username: string,
  password = 'correct horse battery',
): Promise<string> {
  const result = await runCli(
    [
      'user',
      'add',
      '--data',
      dataDir,
      '--username',
      username,
      '--email',
      `${username}@example.com`,
      '--password-stdin',
      '--confirmed',
      '--json',
    ],
    { input: `${password}\n` },
  );
  if (result.code !== 0) throw new Error(`user add ${username} failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { user_id: string }).user_id;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

export interface RunningServer {
  readonly port: number;
  readonly child: ChildProcess;
  output(): string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const servers: RunningServer[] = [];

export async function startServer(
  dataDir: string,
  adminPassFile: string,
  extraArgs: readonly string[] = [],
): Promise<RunningServer> {
  const port = await freePort();
  const child = spawn(
    BIN,
    [
      'serve',
      '--data',
      dataDir,
      '--port',
      String(port),
      '--admin-user',
      'admin',
      '--admin-pass-file',
      adminPassFile,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  const server: RunningServer = {
    port,
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  servers.push(server);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/health`);
      if (response.status === 200) return server;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`server did not become healthy:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Kills servers a failed test left running. */
export async function stopServers(): Promise<void> {
  await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
}
