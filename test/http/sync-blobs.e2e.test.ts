import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  addUser,
  call,
  pair,
  pullAll,
  push,
  startTestServer,
  type Device,
  type TestServer,
  type WireOp,
} from '../helpers/sync-app.js';
import { fileBody, sha256 } from './blob-fixtures.js';

let server: TestServer;
let laptop: Device;
let desktop: Device;
let otherVault: Device;
beforeEach(async () => {
  server = await startTestServer();
  await addUser(server, 'alice');
  laptop = await pair(server, 'alice', 'vault-1', 'laptop');
  desktop = await pair(server, 'alice', 'vault-1', 'desktop');
  otherVault = await pair(server, 'alice', 'vault-2', 'work');
});
afterEach(async () => server.close());

async function upload(device: Device, content: Buffer) {
  const body = fileBody(content, sha256(content));
  return call(server, device, {
    method: 'POST',
    url: '/api/v1/blobs/',
    headers: body.headers,
    payload: body.payload,
  });
}

const fileOp = (id: string, blob: { sha256: string; size: number }): WireOp => ({
  op_id: id,
  entity_type: 'file',
  entity_id: 'attachments/photo.png',
  op_type: 'create',
  payload_json: JSON.stringify({ path: 'attachments/photo.png', blob, contentHash: blob.sha256 }),
});

it('two devices of a vault exchange a binary file through a blob and a file op', async () => {
  const content = randomBytes(200_000);
  const blob = { sha256: sha256(content), size: content.length };
  const uploaded = await upload(laptop, content);
  expect(uploaded.json()).toEqual(blob);
  expect((await push(server, laptop, [fileOp('f-1', blob)])).json()).toMatchObject({
    accepted: ['f-1'],
  });

  const { ops } = await pullAll(server, desktop);
  const reference = (JSON.parse(ops[0]!.payload_json) as { blob: typeof blob }).blob;
  const download = await call(server, desktop, {
    method: 'GET',
    url: `/api/v1/blobs/${reference.sha256}`,
  });
  expect(download.statusCode).toBe(200);
  expect(download.rawPayload.equals(content)).toBe(true);
  expect(Number(download.headers['content-length'])).toBe(reference.size);
});

it('refuses file ops naming a blob the vault does not hold, or with the wrong size', async () => {
  const content = randomBytes(1000);
  const blob = { sha256: sha256(content), size: content.length };
  await upload(laptop, content);
  const head = server.runtime.store.head();

  const foreign = await push(server, otherVault, [fileOp('f-1', blob)]);
  expect(foreign.statusCode).toBe(400);
  expect(foreign.json().code).toBe('blob_not_owned');

  const wrongSize = await push(server, laptop, [fileOp('f-2', { ...blob, size: blob.size + 1 })]);
  expect(wrongSize.statusCode).toBe(400);
  expect(wrongSize.json().code).toBe('invalid_blob_reference');

  const inline = await push(server, laptop, [
    { ...fileOp('f-3', blob), payload_json: JSON.stringify({ path: 'a.bin', dataBase64: 'AAAA' }) },
  ]);
  expect(inline.json().code).toBe('inline_binary_forbidden');
  expect(server.runtime.store.head()).toBe(head);
});
