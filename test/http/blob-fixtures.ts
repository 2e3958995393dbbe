import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';

export const PASSWORD = 'correct horse battery';

export interface PairedDevice {
  readonly token: string;
  readonly deviceId: string;
  readonly userId: string;
  readonly vaultId: string;
}

export interface BlobWorld {
  readonly dataDir: string;
  readonly runtime: Runtime;
  readonly app: FastifyInstance;
  /** Alice in vault A (two devices), Alice in vault B, Bob in vault A (same vault id). */
  readonly alice: PairedDevice;
  readonly aliceSecond: PairedDevice;
  readonly aliceOtherVault: PairedDevice;
  readonly bob: PairedDevice;
  close(): Promise<void>;
}

export interface WorldOptions {
  readonly limits?: Partial<Config['limits']>;
  readonly timeouts?: Partial<Config['timeouts']>;
  /** Runs on the app before it is ready, e.g. to add a hook. */
  readonly extend?: (app: FastifyInstance) => void;
}

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export async function openBlobWorld(options: WorldOptions = {}): Promise<BlobWorld> {
  const dataDir = mkdtempSync(join(tmpdir(), 'verstak-blobs-'));
  const base = loadConfig(dataDir);
  const config: Config = {
    ...base,
    limits: { ...base.limits, ...options.limits },
    timeouts: { ...base.timeouts, ...options.timeouts },
  };
  const runtime = openRuntime({ dataDir, config });
  const app = await buildApp({ ...runtime, logger: false });
  options.extend?.(app);
  for (const username of ['alice', 'bob']) {
    await runtime.users.register(
      { username, email: `${username}@example.org`, password: PASSWORD, confirmed: true },
      'operator',
      { actor: 'test' },
    );
  }
  let ip = 0;
  const pair = async (login: string, vaultId: string): Promise<PairedDevice> => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/client/pair',
      remoteAddress: `10.0.0.${++ip}`,
      payload: {
        login,
        password: PASSWORD,
        device_name: 'test',
        client_version: 'test',
        vault_id: vaultId,
      },
    });
    if (res.statusCode !== 200) throw new Error(`pairing failed: ${res.body}`);
    const body = res.json<{ device_token: string; device_id: string; user_id: string }>();
    return { token: body.device_token, deviceId: body.device_id, userId: body.user_id, vaultId };
  };
  const world = {
    dataDir,
    runtime,
    app,
    alice: await pair('alice', 'vault-a'),
    aliceSecond: await pair('alice', 'vault-a'),
    aliceOtherVault: await pair('alice', 'vault-b'),
    bob: await pair('bob', 'vault-a'),
    async close() {
      await app.close();
      runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return world;
}

export interface Part {
  readonly name: string;
  readonly filename?: string;
  readonly contentType?: string;
  readonly content: Buffer | string;
}

/** A multipart/form-data body written out by hand, so that malformed ones can be too. */
export function multipartBody(
  parts: readonly Part[],
  boundary = `verstak${randomBytes(8).toString('hex')}`,
) {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const filename = part.filename === undefined ? '' : `; filename="${part.filename}"`;
    const type = part.contentType ? `Content-Type: ${part.contentType}\r\n` : '';
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}\r\n${type}\r\n`,
      ),
      Buffer.from(part.content),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

export const fileBody = (content: Buffer, filename = 'attachment.bin') =>
  multipartBody([{ name: 'file', filename, contentType: 'application/octet-stream', content }]);

export const bearer = (device: PairedDevice) => ({ authorization: `Bearer ${device.token}` });

export function upload(world: BlobWorld, device: PairedDevice, content: Buffer) {
  const body = fileBody(content);
  return world.app.inject({
    method: 'POST',
    url: '/api/v1/blobs/',
    headers: { ...body.headers, ...bearer(device) },
    payload: body.payload,
  });
}

export const download = (world: BlobWorld, device: PairedDevice, name: string, headers = {}) =>
  world.app.inject({
    method: 'GET',
    url: `/api/v1/blobs/${name}`,
    headers: { ...bearer(device), ...headers },
  });

export const blobPath = (world: BlobWorld, hash: string) =>
  join(world.dataDir, 'blobs', hash.slice(0, 2), hash.slice(2, 4), hash);

/** Every regular file under blobs/, as paths relative to it. */
export function storedFiles(world: BlobWorld): string[] {
  const root = join(world.dataDir, 'blobs');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1));
}

export const tempFiles = (world: BlobWorld) => readdirSync(join(world.dataDir, 'tmp'));

export const logHead = (world: BlobWorld) => world.runtime.store.head();
