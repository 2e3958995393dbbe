import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BIN, freePort, runCli } from '../cli/helpers.js';

export const PASSWORD = 'correct horse battery';

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Record<string, unknown>;
  readonly raw: Buffer;
}

export interface Target {
  port: number;
}

/**
 * One HTTP request on a fresh connection, so that a kill -9 cuts exactly the requests in
 * flight. `localAddress` picks the loopback source address: the pairing rate limit counts
 * per IP, and each simulated device is its own machine.
 */
export function httpCall(
  target: Target,
  method: string,
  path: string,
  opts: {
    token?: string;
    json?: unknown;
    body?: Buffer;
    headers?: Record<string, string>;
    localAddress?: string;
    timeoutMs?: number;
  } = {},
): Promise<Reply> {
  const payload = opts.json !== undefined ? Buffer.from(JSON.stringify(opts.json)) : opts.body;
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (payload) headers['content-length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: target.port,
        method,
        path,
        headers,
        agent: false,
        localAddress: opts.localAddress,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
          } catch {
            // Not JSON (a blob download); the raw bytes are there.
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, raw });
        });
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}

export interface Device {
  readonly name: string;
  readonly vaultId: string;
  readonly token: string;
  readonly deviceId: string;
  readonly localAddress: string;
}

export async function pairDevice(
  target: Target,
  login: string,
  vaultId: string,
  name: string,
  localAddress: string,
): Promise<Device> {
  const res = await httpCall(target, 'POST', '/api/client/pair', {
    localAddress,
    headers: { authorization: 'Bearer ' },
    json: {
      login,
      password: PASSWORD,
      device_name: name,
      client_version: 'verstak-desktop/v2',
      vault_id: vaultId,
    },
  });
  if (res.status !== 200)
    throw new Error(`pair ${name} failed: ${res.status} ${res.raw.toString()}`);
  return {
    name,
    vaultId,
    token: res.body.device_token as string,
    deviceId: res.body.device_id as string,
    localAddress,
  };
}

export interface WireOp {
  op_id: string;
  entity_type: string;
  entity_id: string;
  op_type: string;
  payload_json: string;
  created_at: string;
}

/** Each op on its own path, so nothing supersedes anything and a pull from 0 lists all. */
export const uniqueOp = (opId: string, content: string): WireOp => ({
  op_id: opId,
  entity_type: 'file',
  entity_id: `notes/${opId}.md`,
  op_type: 'update',
  payload_json: JSON.stringify({ path: `notes/${opId}.md`, content }),
  created_at: '2026-12-04T10:00:00Z',
});

export const pushOps = (target: Target, device: Device, ops: WireOp[], timeoutMs = 10_000) =>
  httpCall(target, 'POST', '/api/v1/sync/push', {
    token: device.token,
    localAddress: device.localAddress,
    json: { device_id: device.deviceId, ops },
    timeoutMs,
  });

export const pullPage = (target: Target, device: Device, since: number) =>
  httpCall(target, 'POST', '/api/v1/sync/pull', {
    token: device.token,
    localAddress: device.localAddress,
    json: { since_sequence: since, page_limit: 1000 },
  });

export interface PulledOp extends WireOp {
  server_sequence: number;
  device_id: string;
}

/** Every op of the device's vault from `since`, following has_more. */
export async function pullAll(target: Target, device: Device, since = 0): Promise<PulledOp[]> {
  const ops: PulledOp[] = [];
  let cursor = since;
  for (let page = 0; page < 10_000; page++) {
    const res = await pullPage(target, device, cursor);
    if (res.status !== 200) throw new Error(`pull failed: ${res.status} ${res.raw.toString()}`);
    const body = res.body as { has_more: boolean; ops: PulledOp[] };
    for (const op of body.ops) {
      if (op.server_sequence <= cursor) throw new Error('pull went backwards');
      cursor = op.server_sequence;
      ops.push(op);
    }
    if (!body.has_more) return ops;
  }
  throw new Error('pull did not finish');
}

const BOUNDARY = 'verstakfaulttest';

export function uploadBlob(target: Target, device: Device, content: Buffer) {
  const body = Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
    content,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
  return httpCall(target, 'POST', '/api/v1/blobs/', {
    token: device.token,
    localAddress: device.localAddress,
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    body,
    timeoutMs: 30_000,
  });
}

export const downloadBlob = (target: Target, device: Device, sha: string) =>
  httpCall(target, 'GET', `/api/v1/blobs/${sha}`, {
    token: device.token,
    localAddress: device.localAddress,
  });

export interface Server {
  readonly port: number;
  readonly child: ChildProcess;
  readonly startedInMs: number;
  output(): string;
  /** Sends `signal` (SIGKILL unless told) and resolves once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const running = new Set<Server>();

/**
 * The built server on `dataDir`, without an admin account (that would cost an argon2 hash
 * per restart and the fault tests never use the console). Resolves once health is 200.
 */
export async function startServer(dataDir: string, healthWithinMs = 20_000): Promise<Server> {
  const port = await freePort();
  const began = Date.now();
  const child = spawn(BIN, ['serve', '--data', dataDir, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, VERSTAK_LOG_LEVEL: 'warn' },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  let startedInMs = 0;
  const server: Server = {
    port,
    child,
    get startedInMs() {
      return startedInMs;
    },
    output: () => output,
    async stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      running.delete(server);
    },
  };
  running.add(server);
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`server exited early (${child.exitCode}):\n${output}`);
    try {
      const res = await httpCall({ port }, 'GET', '/api/v1/health', { timeoutMs: 2_000 });
      if (res.status === 200) {
        startedInMs = Date.now() - began;
        return server;
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() - began > healthWithinMs) {
      await server.stop();
      throw new Error(`server on ${dataDir} not healthy within ${healthWithinMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Kills every server a test left running (afterEach/afterAll). */
export async function killServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop('SIGKILL')));
}

/** `verify` and `replay --check` on a stopped data directory: both must exit 0. */
export async function checkStore(dataDir: string): Promise<{ verify: string; replay: string }> {
  const verify = await runCli(['verify', '--data', dataDir]);
  if (verify.code !== 0) {
    throw new Error(`verify failed (${verify.code}):\n${verify.stdout}${verify.stderr}`);
  }
  const replay = await runCli(['replay', '--check', '--data', dataDir]);
  if (replay.code !== 0) {
    throw new Error(`replay --check failed (${replay.code}):\n${replay.stdout}${replay.stderr}`);
  }
  return { verify: verify.stdout.trim(), replay: replay.stdout.trim() };
}

export interface LoggedEvent {
  readonly seq: number;
  readonly hash: string;
}

/** The whole log of a stopped data directory (opening it runs WAL recovery, as a start would). */
export function readLog(dataDir: string): LoggedEvent[] {
  const db = new Database(join(dataDir, 'server.db'));
  try {
    return db.prepare('SELECT seq, hash FROM events ORDER BY seq').all() as LoggedEvent[];
  } finally {
    db.close();
  }
}

/** Every blob the database registers, from a stopped data directory. */
export function registeredBlobs(dataDir: string): string[] {
  const db = new Database(join(dataDir, 'server.db'), { readonly: true });
  try {
    return db.prepare('SELECT sha256 FROM blobs').pluck().all() as string[];
  } finally {
    db.close();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const randomBetween = (min: number, max: number) => min + Math.random() * (max - min);
