import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { buildApp } from '../../src/http/app.js';
import { openRuntime } from '../../src/runtime.js';
import {
  addUser,
  call,
  pair,
  pullAll,
  type Device,
  type PulledOp,
  type TestServer,
} from '../helpers/sync-app.js';

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A server on an existing data directory, in this process (the restored one). */
export async function openServerOn(dataDir: string): Promise<TestServer> {
  const runtime = openRuntime({ dataDir });
  const app = await buildApp({ ...runtime, logger: false });
  return {
    runtime,
    app,
    dir: dataDir,
    async close() {
      await app.close();
      runtime.close();
    },
  };
}

export interface Vault {
  readonly vaultId: string;
  readonly devices: readonly Device[];
}

/** `users` users with `vaults` vaults each, `perVault` devices paired to each vault. */
export async function pairDevices(
  server: TestServer,
  users: number,
  vaults: number,
  perVault: number,
): Promise<Vault[]> {
  const result: Vault[] = [];
  for (let u = 0; u < users; u++) {
    const name = `user${u}`;
    await addUser(server, name);
    for (let v = 0; v < vaults; v++) {
      const vaultId = `vault-${u}-${v}`;
      const devices: Device[] = [];
      for (let d = 0; d < perVault; d++) devices.push(await pair(server, name, vaultId, `dev${d}`));
      result.push({ vaultId, devices });
    }
  }
  return result;
}

const BOUNDARY = 'verstakbackuptest';

export function uploadBlob(server: TestServer, device: Device, content: Buffer) {
  const payload = Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
    content,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
  return call(server, device, {
    method: 'POST',
    url: '/api/v1/blobs/',
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    payload,
  });
}

export async function downloadBlob(server: TestServer, device: Device, sha: string) {
  const res = await call(server, device, { method: 'GET', url: `/api/v1/blobs/${sha}` });
  return { status: res.statusCode, bytes: res.rawPayload };
}

/** Every op of a vault, pulled from 0 the way a new device would. */
export async function vaultOps(server: TestServer, device: Device): Promise<PulledOp[]> {
  return (await pullAll(server, device, 0, 1000)).ops;
}

export const randomContent = (size: number) => randomBytes(size);

/** Modes of everything under `dir` (itself included), as `path mode` lines. */
export function modesUnder(dir: string): { path: string; mode: number; isDir: boolean }[] {
  const out = [{ path: dir, mode: statSync(dir).mode & 0o777, isDir: true }];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    out.push({ path, mode: statSync(path).mode & 0o777, isDir: entry.isDirectory() });
  }
  return out;
}

/** Tar members of a .tar.gz with the offset of each one's data in the uncompressed stream. */
export function tarMembers(archive: string): { name: string; offset: number; size: number }[] {
  const tar = gunzipSync(readFileSync(archive));
  const members: { name: string; offset: number; size: number }[] = [];
  let at = 0;
  while (at + 512 <= tar.length) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const prefix = header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, ''), 8);
    members.push({ name: prefix ? `${prefix}/${name}` : name, offset: at + 512, size });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return members;
}

/** Rewrites an archive with one byte of a member's data flipped, gzip framing intact. */
export function flipInMember(archive: string, member: string, into: string): void {
  const tar = gunzipSync(readFileSync(archive));
  const found = tarMembers(archive).find((m) => m.name === member);
  if (!found || found.size === 0) throw new Error(`no member ${member} with data`);
  tar[found.offset + Math.floor(found.size / 2)]! ^= 0x01;
  writeFileSync(into, gzipSync(tar));
}

/** A copy of the archive with one byte flipped at `position` of the compressed file. */
export function flipByte(archive: string, position: number, into: string): void {
  const bytes = readFileSync(archive);
  bytes[position]! ^= 0x01;
  writeFileSync(into, bytes);
}

export function readManifest(archive: string): {
  log: { head_seq: number; chain_head: string; epoch: string };
  files: { path: string; size: number; sha256: string }[];
} {
  const tar = gunzipSync(readFileSync(archive));
  const first = tarMembers(archive)[0]!;
  return JSON.parse(
    tar.subarray(first.offset, first.offset + first.size).toString('utf8'),
  ) as ReturnType<typeof readManifest>;
}
