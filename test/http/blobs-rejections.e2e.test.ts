import { randomBytes } from 'node:crypto';
import { rmSync, truncateSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bearer,
  blobPath,
  download,
  fileBody,
  logHead,
  multipartBody,
  openBlobWorld,
  sha256,
  storedFiles,
  tempFiles,
  upload,
  type BlobWorld,
  type WorldOptions,
} from './blob-fixtures.js';

const KiB = 1024;

let world: BlobWorld | undefined;

async function open(options: WorldOptions = {}) {
  world = await openBlobWorld(options);
  return world;
}

afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** Runs `act` and checks that it changed nothing: no event, no file, no staged file. */
async function expectNothingStored(w: BlobWorld, act: () => Promise<void>) {
  const head = logHead(w);
  const files = storedFiles(w);
  await act();
  expect(logHead(w)).toBe(head);
  expect(storedFiles(w)).toEqual(files);
  expect(tempFiles(w)).toEqual([]);
}

const post = (
  w: BlobWorld,
  payload: Buffer | string | undefined,
  headers: Record<string, string>,
) =>
  w.app.inject({
    method: 'POST',
    url: '/api/v1/blobs/',
    headers: { ...bearer(w.alice), ...headers },
    ...(payload === undefined ? {} : { payload }),
  });

describe('malformed uploads', () => {
  const content = 'some bytes';
  const cases: [
    string,
    { payload: Buffer | string | undefined; headers: Record<string, string> },
  ][] = [
    ['no parts', multipartBody([])],
    ['a field instead of a file', multipartBody([{ name: 'file', content }])],
    [
      'a file without a filename',
      multipartBody([{ name: 'file', contentType: 'application/octet-stream', content }]),
    ],
    ['a file with an empty filename', multipartBody([{ name: 'file', filename: '', content }])],
    ['a file under another name', multipartBody([{ name: 'upload', filename: 'a.bin', content }])],
    [
      'two file parts',
      multipartBody([
        { name: 'file', filename: 'a.bin', content },
        { name: 'file', filename: 'b.bin', content },
      ]),
    ],
    [
      'a field after the file',
      multipartBody([
        { name: 'file', filename: 'a.bin', content },
        { name: 'note', content: 'x' },
      ]),
    ],
    [
      'a field before the file',
      multipartBody([
        { name: 'note', content: 'x' },
        { name: 'file', filename: 'a.bin', content },
      ]),
    ],
    [
      'a body cut before its closing boundary',
      (() => {
        const body = fileBody(Buffer.from(content));
        return { ...body, payload: body.payload.subarray(0, body.payload.length - 10) };
      })(),
    ],
    [
      'a multipart type without a boundary',
      { payload: 'x', headers: { 'content-type': 'multipart/form-data' } },
    ],
    ['a JSON body', { payload: '{"file":"x"}', headers: { 'content-type': 'application/json' } }],
    [
      'a raw body',
      { payload: 'raw bytes', headers: { 'content-type': 'application/octet-stream' } },
    ],
    ['no body at all', { payload: undefined, headers: {} }],
  ];

  it.each(cases)('refuses %s with 400 invalid_multipart', async (_name, body) => {
    const w = await open();
    await expectNothingStored(w, async () => {
      const res = await post(w, body.payload, body.headers);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('invalid_multipart');
    });
  });
});

describe('size limit', () => {
  it('accepts exactly max_blob_bytes and refuses one byte more with 413 blob_too_large', async () => {
    const w = await open({ limits: { max_blob_bytes: 64 * KiB } });
    await expectNothingStored(w, async () => {
      const res = await upload(w, w.alice, randomBytes(64 * KiB + 1));
      expect(res.statusCode).toBe(413);
      expect(res.json().code).toBe('blob_too_large');
    });
    expect((await upload(w, w.alice, randomBytes(64 * KiB))).statusCode).toBe(200);
  });

  it('refuses a declared length beyond the body cap before reading the body', async () => {
    const w = await open({ limits: { max_blob_bytes: 64 * KiB } });
    const body = fileBody(randomBytes(10));
    await expectNothingStored(w, async () => {
      const res = await post(w, body.payload, {
        ...body.headers,
        'content-length': String(2 * 1024 * KiB),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json().code).toBe('blob_too_large');
    });
  });
  it('caps the whole body, framing included, even without a declared length', async () => {
    const w = await open({ limits: { max_blob_bytes: 64 * KiB } });
    const body = fileBody(randomBytes(10));
    const preamble = Buffer.alloc(1024 * KiB + 65 * KiB, 0x2d); // ignored by parsers, still counted
    await expectNothingStored(w, async () => {
      const res = await w.app.inject({
        method: 'POST',
        url: '/api/v1/blobs/',
        headers: { ...body.headers, ...bearer(w.alice) },
        payload: Readable.from([preamble, Buffer.from('\r\n'), body.payload]),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json().code).toBe('blob_too_large');
    });
  });
});

describe('quotas', () => {
  it('holds when uploads race each other', async () => {
    const w = await open({ limits: { max_vault_blob_bytes: 100, max_user_blob_bytes: 1000 } });
    const contents = [randomBytes(60), randomBytes(60), randomBytes(60)];
    const answers = await Promise.all(contents.map((c) => upload(w, w.alice, c)));
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 413, 413]);
    expect(storedFiles(w)).toHaveLength(1);
    expect(tempFiles(w)).toEqual([]);
  });

  it('refuses content past the vault quota and charges a re-upload nothing', async () => {
    const w = await open({ limits: { max_vault_blob_bytes: 100, max_user_blob_bytes: 1000 } });
    const first = randomBytes(60);
    expect((await upload(w, w.alice, first)).statusCode).toBe(200);
    await expectNothingStored(w, async () => {
      const res = await upload(w, w.alice, randomBytes(60));
      expect(res.statusCode).toBe(413);
      expect(res.json().code).toBe('quota_exceeded');
    });
    expect((await upload(w, w.aliceSecond, first)).statusCode).toBe(200);
    expect((await upload(w, w.bob, randomBytes(100))).statusCode).toBe(200);
  });

  it('refuses content past the user quota across vaults, counting shared content once', async () => {
    const w = await open({ limits: { max_vault_blob_bytes: 1000, max_user_blob_bytes: 150 } });
    const shared = randomBytes(100);
    expect((await upload(w, w.alice, shared)).statusCode).toBe(200);
    expect((await upload(w, w.aliceOtherVault, shared)).statusCode).toBe(200);
    await expectNothingStored(w, async () => {
      const res = await upload(w, w.aliceOtherVault, randomBytes(51));
      expect(res.statusCode).toBe(413);
      expect(res.json().code).toBe('quota_exceeded');
    });
    expect((await upload(w, w.aliceOtherVault, randomBytes(50))).statusCode).toBe(200);
  });
});

describe('a damaged store', () => {
  it('answers 500 blob_unavailable for a missing file until the content is uploaded again', async () => {
    const w = await open();
    const content = randomBytes(3000);
    await upload(w, w.alice, content);
    rmSync(blobPath(w, sha256(content)));
    const res = await download(w, w.alice, sha256(content));
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'blob unavailable', code: 'blob_unavailable' });
    const head = logHead(w);
    expect((await upload(w, w.alice, content)).statusCode).toBe(200);
    expect(logHead(w)).toBe(head);
    expect((await download(w, w.alice, sha256(content))).rawPayload.equals(content)).toBe(true);
  });

  it('answers 500 blob_unavailable for a file of the wrong size, and a re-upload repairs it', async () => {
    const w = await open();
    const content = randomBytes(3000);
    await upload(w, w.alice, content);
    truncateSync(blobPath(w, sha256(content)), 1000);
    expect((await download(w, w.alice, sha256(content))).json().code).toBe('blob_unavailable');
    await upload(w, w.bob, content);
    expect((await download(w, w.alice, sha256(content))).rawPayload.equals(content)).toBe(true);
  });

  it('never completes a download whose bytes no longer match the digest, and sets the copy aside', async () => {
    const w = await open();
    const content = randomBytes(300_000);
    await upload(w, w.alice, content);
    writeFileSync(blobPath(w, sha256(content)), randomBytes(content.length));
    const res = await download(w, w.alice, sha256(content)).catch((err: Error) => err);
    if (!(res instanceof Error)) expect(res.rawPayload.length).toBeLessThan(content.length);
    await expect
      .poll(async () => (await download(w, w.alice, sha256(content))).statusCode)
      .toBe(500);
    expect((await upload(w, w.alice, content)).statusCode).toBe(200);
    expect((await download(w, w.alice, sha256(content))).rawPayload.equals(content)).toBe(true);
  });
});

describe('authentication', () => {
  it('refuses uploads and downloads without a token, with 401', async () => {
    const w = await open();
    const body = fileBody(randomBytes(10));
    await expectNothingStored(w, async () => {
      const res = await w.app.inject({ method: 'POST', url: '/api/v1/blobs/', ...body });
      expect(res.statusCode).toBe(401);
    });
    const res = await w.app.inject({ method: 'GET', url: `/api/v1/blobs/${'a'.repeat(64)}` });
    expect(res.statusCode).toBe(401);
  });

  it('refuses a revoked device with 401', async () => {
    const w = await open();
    const content = randomBytes(100);
    await upload(w, w.alice, content);
    const revoke = await w.app.inject({
      method: 'POST',
      url: '/api/client/revoke-current',
      headers: bearer(w.alice),
    });
    expect(revoke.statusCode).toBe(200);
    await expectNothingStored(w, async () => {
      const res = await upload(w, w.alice, randomBytes(100));
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('device revoked');
    });
    expect((await download(w, w.alice, sha256(content))).statusCode).toBe(401);
    expect((await download(w, w.aliceSecond, sha256(content))).statusCode).toBe(200);
  });

  it('refuses a blocked user with 403', async () => {
    const w = await open();
    w.runtime.users.setBlocked(w.bob.userId, true, { actor: 'test' });
    await expectNothingStored(w, async () => {
      expect((await upload(w, w.bob, randomBytes(10))).statusCode).toBe(403);
    });
  });
});
