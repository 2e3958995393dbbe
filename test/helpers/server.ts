import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { BINARY } from './build.js';

/** A port nothing listens on right now: bind port 0, read it, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts build/bin/verstak-sync-server on 127.0.0.1:<free port> with extra arguments. */
export async function startServer(args: readonly string[]): Promise<ServerProcess> {
  const port = await freePort();
  // The port must come from --port alone, not from the caller's environment.
  const { VERSTAK_LISTEN: _listen, VERSTAK_PORT: _port, ...env } = process.env;
  const child = spawn(process.execPath, [BINARY, '--port', String(port), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, port, stdout: () => out, stderr: () => err, exited };
}

/** Polls the health endpoint until it answers 200; fails fast if the process dies. */
export async function waitForHealth(server: ServerProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void server.exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone) throw new Error(`server exited early:\n${server.stderr()}\n${server.stdout()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/health`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`server not healthy after ${timeoutMs} ms:\n${server.stderr()}`);
}

/** Resolves with the exit, or with 'timeout' if it takes longer than `ms`. */
export function exitWithin(server: ServerProcess, ms: number) {
  return Promise.race([
    server.exited,
    new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref()),
  ]);
}

/** Parsed pino lines from the server's stdout. */
export const logLines = (server: ServerProcess) =>
  server
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
