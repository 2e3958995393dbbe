import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp, type AppDeps } from '../../src/http/app.js';
import { openRuntime, type Runtime, type RuntimeOptions } from '../../src/runtime.js';

export interface TestServer {
  readonly runtime: Runtime;
  readonly app: FastifyInstance;
  readonly dir: string;
  close(): Promise<void>;
}

export interface TestServerOptions extends Partial<RuntimeOptions> {
  readonly limits?: Partial<Config['limits']>;
  /** Top-level config.yml settings, e.g. public_url. */
  readonly settings?: Partial<Omit<Config, 'limits'>>;
  readonly logger?: Logger;
  /** Where the logger writes, for health to report lines it dropped (serve's sink). */
  readonly logOutput?: AppDeps['logOutput'];
  /**
   * A server.db to start from (copied, never opened in place): lets a property test start
   * every run from the same paired devices without paying for argon2 each time. The copy
   * lives in RAM (/dev/shm) where there is one, so that synchronous=FULL costs no disk flush.
   */
  readonly seedDatabase?: string;
}

const RAM_DISK = '/dev/shm';

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const root = options.seedDatabase && existsSync(RAM_DISK) ? RAM_DISK : tmpdir();
  const dir = mkdtempSync(join(root, 'vss-test-'));
  if (options.seedDatabase) copyFileSync(options.seedDatabase, join(dir, 'server.db'));
  const base = loadConfig(dir);
  const config: Config = {
    ...base,
    ...options.settings,
    limits: { ...base.limits, ...options.limits },
  };
  const runtime = openRuntime({ ...options, dataDir: dir, config });
  const app = await buildApp({
    ...runtime,
    logger: options.logger ?? false,
    ...(options.logOutput ? { logOutput: options.logOutput } : {}),
  });
  return {
    runtime,
    app,
    dir,
    async close() {
      await app.close();
      runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const PASSWORD = 'correct horse battery';

export async function addUser(server: TestServer, username: string, confirmed = true) {
  return server.runtime.users.register(
    { username, email: `${username}@example.test`, password: PASSWORD, confirmed },
    'operator',
    { actor: 'test' },
  );
}

export interface Device {
  readonly token: string;
  readonly deviceId: string;
  readonly userId: string;
}

let peers = 0;
/**
 * Every helper pairing comes from its own address: the pair limit allows five attempts per
 * IP, and suites that are not about rate limits pair more devices than that.
 */
export const nextPeer = () => {
  peers += 1;
  return `10.99.${(peers >> 8) & 255}.${peers & 255}`;
};

export async function pair(
  server: TestServer,
  login: string,
  vaultId: string,
  name = 'laptop',
  remoteAddress = nextPeer(),
) {
  const res = await server.app.inject({
    method: 'POST',
    url: '/api/client/pair',
    remoteAddress,
    headers: { authorization: 'Bearer ' },
    payload: {
      login,
      password: PASSWORD,
      device_name: name,
      client_version: 'verstak-desktop/v2',
      vault_id: vaultId,
    },
  });
  if (res.statusCode !== 200) throw new Error(`pair failed: ${res.statusCode} ${res.body}`);
  const body = res.json<{ device_token: string; device_id: string; user_id: string }>();
  return { token: body.device_token, deviceId: body.device_id, userId: body.user_id } as Device;
}

export function call(server: TestServer, device: Device | undefined, opts: InjectOptions) {
  return server.app.inject({
    ...opts,
    headers: { ...(device ? { authorization: `Bearer ${device.token}` } : {}), ...opts.headers },
  });
}

export interface WireOp {
  op_id: string;
  entity_type: string;
  entity_id: string;
  op_type: string;
  payload_json: string;
  client_sequence?: number;
  last_seen_server_seq?: number;
  created_at?: string;
}

export const textOp = (
  id: string,
  path: string,
  content: string,
  extra: Partial<WireOp> = {},
): WireOp => ({
  op_id: id,
  entity_type: 'file',
  entity_id: path,
  op_type: 'update',
  payload_json: JSON.stringify({ path, content }),
  created_at: '2026-11-26T10:00:00Z',
  ...extra,
});

/** An op as the desktop sends it, its payload given as an object. */
export const wireOp = (
  id: string,
  entityType: string,
  entityId: string,
  opType: string,
  payload: object,
): WireOp => ({
  op_id: id,
  entity_type: entityType,
  entity_id: entityId,
  op_type: opType,
  payload_json: JSON.stringify(payload),
  created_at: '2026-12-04T10:00:00Z',
});

export async function push(server: TestServer, device: Device, ops: WireOp[], extra: object = {}) {
  return call(server, device, {
    method: 'POST',
    url: '/api/v1/sync/push',
    payload: { device_id: device.deviceId, ops, ...extra },
  });
}

/** A push that must succeed: its answer, or an error with the status and body. */
export async function pushAccepted(server: TestServer, device: Device, ops: WireOp[]) {
  const res = await push(server, device, ops);
  if (res.statusCode !== 200) throw new Error(`push failed: ${res.statusCode} ${res.body}`);
  return res.json<{ accepted: string[]; conflicts: unknown[] }>();
}

export interface PulledOp extends WireOp {
  server_sequence: number;
  device_id: string;
}

export interface PullPage {
  server_sequence: number;
  page_last_sequence: number;
  has_more: boolean;
  ops: PulledOp[];
}

export async function pull(server: TestServer, device: Device, since: number, pageLimit?: number) {
  return call(server, device, {
    method: 'POST',
    url: '/api/v1/sync/pull',
    payload:
      pageLimit === undefined
        ? { since_sequence: since }
        : { since_sequence: since, page_limit: pageLimit },
  });
}

/** Follows has_more like the desktop does, checking its paging invariants on the way. */
export async function pullAll(server: TestServer, device: Device, since = 0, pageLimit?: number) {
  const ops: PulledOp[] = [];
  let cursor = since;
  for (;;) {
    const res = await pull(server, device, cursor, pageLimit);
    if (res.statusCode !== 200) throw new Error(`pull failed: ${res.statusCode} ${res.body}`);
    const page = res.json<PullPage>();
    for (const op of page.ops) {
      if (op.server_sequence <= cursor) throw new Error('pull went backwards');
      cursor = op.server_sequence;
      ops.push(op);
    }
    if (page.page_last_sequence !== cursor) throw new Error('page_last_sequence mismatch');
    if (!page.has_more) return { ops, cursor, head: page.server_sequence };
  }
}
