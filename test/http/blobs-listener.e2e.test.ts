import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runBlobBench } from '../../scripts/bench/blobs.js';
import { slowDownload, streamDownload, streamUpload, writeAllThenRead } from './blob-client.js';
import {
  blobPath,
  logHead,
  openBlobWorld,
  storedFiles,
  tempFiles,
  type BlobWorld,
  type WorldOptions,
} from './blob-fixtures.js';

const KiB = 1024;
const MiB = 1024 * KiB;

let world: BlobWorld | undefined;

/** A world whose app listens on 127.0.0.1, port 0. */
async function listening(options: WorldOptions = {}, checkEveryMs?: number) {
  const w = await openBlobWorld(options);
  world = w;
  // Node checks request timeouts on this interval (30 s by default); shorten it so a
  // test can tell whether a long upload would have been cut. The headers timeout must be
  // below the request timeout, as `serve` sets it, or Node applies the larger of the two.
  if (checkEveryMs) {
    Object.assign(w.app.server, {
      connectionsCheckingInterval: checkEveryMs,
      headersTimeout: checkEveryMs * 2,
    });
  }
  await w.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = w.app.server.address() as AddressInfo;
  return { w, port };
}

afterEach(async () => {
  await world?.close();
  world = undefined;
});

const expectUnchanged = (w: BlobWorld, head: number) => {
  expect(logHead(w)).toBe(head);
  expect(storedFiles(w)).toEqual([]);
  expect(tempFiles(w)).toEqual([]);
};

describe('an upload over max_blob_bytes, over a real connection', () => {
  const limits = { max_blob_bytes: 64 * KiB };

  it.each([
    ['with a Content-Length', false],
    ['chunked', true],
  ])(
    'is answered 413 blob_too_large while the client is still sending (%s)',
    async (_name, chunked) => {
      const { w, port } = await listening({ limits });
      const head = logHead(w);
      const outcome = await streamUpload({
        port,
        token: w.alice.token,
        block: randomBytes(16 * KiB),
        blocks: 56, // 896 KiB: within the body cap, so the file count must catch it
        chunked,
      });
      expect(outcome.status).toBe(413);
      expect(JSON.parse(outcome.body!)).toMatchObject({ code: 'blob_too_large' });
      expect(outcome.error).toBeUndefined();
      expectUnchanged(w, head);
    },
  );

  it('reaches a client that reads nothing until it has sent its whole body', async () => {
    const { w, port } = await listening({ limits });
    const head = logHead(w);
    const partHead = '--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n';
    const fileBytes = 900 * KiB;
    const answer = await writeAllThenRead(
      port,
      'POST /api/v1/blobs/ HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        `Authorization: Bearer ${w.alice.token}\r\n` +
        'Content-Type: multipart/form-data; boundary=b\r\n' +
        `Content-Length: ${partHead.length + fileBytes}\r\n\r\n${partHead}`,
      fileBytes,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/connection: close/i);
    expect(answer).toContain('"code":"blob_too_large"');
    expectUnchanged(w, head);
  });

  it('reaches that client too when refused on its declared length, or for a bad token', async () => {
    const { w, port } = await listening({ limits });
    const requestHead = (token: string, length: number) =>
      `POST /api/v1/blobs/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: multipart/form-data; boundary=b\r\nContent-Length: ${length}\r\n\r\n`;
    const tooLong = await writeAllThenRead(port, requestHead(w.alice.token, 4 * MiB), 4 * MiB);
    expect(tooLong).toMatch(/^HTTP\/1\.1 413 /);
    const badToken = await writeAllThenRead(port, requestHead('nope', 900 * KiB), 900 * KiB);
    expect(badToken).toMatch(/^HTTP\/1\.1 401 /);
  });

  it('is answered 413 to fetch as well', async () => {
    const { w, port } = await listening({ limits });
    const form = new FormData();
    form.append('file', new Blob([randomBytes(300 * KiB)]), 'blob.bin');
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/blobs/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.alice.token}` },
      body: form,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'blob_too_large' });
  });
});

describe('a long upload', () => {
  it('is not cut by the request timeout while data keeps arriving', async () => {
    const { w, port } = await listening({ timeouts: { request_ms: 600 } }, 50);
    const outcome = await streamUpload({
      port,
      token: w.alice.token,
      block: randomBytes(4 * KiB),
      blocks: 12,
      pauseMs: 150, // about 1.8 s in all: three request timeouts
    });
    expect(outcome.status).toBe(200);
    expect(JSON.parse(outcome.body!)).toEqual({ sha256: outcome.sha256, size: outcome.size });
  });

  it('is aborted with 408 when no data arrives for timeouts.request_ms, leaving nothing', async () => {
    const { w, port } = await listening({ timeouts: { request_ms: 500 } });
    const head = logHead(w);
    const outcome = await streamUpload({
      port,
      token: w.alice.token,
      block: randomBytes(4 * KiB),
      blocks: 10,
      stallAfter: 3,
    });
    expect(outcome.status).toBe(408);
    expect(JSON.parse(outcome.body!)).toMatchObject({ code: 'request_timeout' });
    expectUnchanged(w, head);
  });

  it('leaves nothing behind when the client disconnects half-way', async () => {
    const { w, port } = await listening();
    const head = logHead(w);
    const outcome = await streamUpload({
      port,
      token: w.alice.token,
      block: randomBytes(64 * KiB),
      blocks: 64,
      abortAfter: 20,
    });
    expect(outcome.status).toBeUndefined();
    await expect.poll(() => tempFiles(w), { timeout: 5000 }).toEqual([]);
    expectUnchanged(w, head);
  });
});

describe('streaming', () => {
  it('keeps memory flat while a 512 MiB blob goes up and comes back down', async () => {
    const { w, port } = await listening();
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const baseline = process.memoryUsage().rss;
    const sent = await streamUpload({
      port,
      token: w.alice.token,
      block: randomBytes(MiB),
      blocks: 512,
    });
    const uploadPeak = peak - baseline;
    const received = await streamDownload(port, w.aliceSecond.token, sent.sha256);
    clearInterval(sampler);
    expect(sent.status).toBe(200);
    expect(JSON.parse(sent.body!)).toEqual({ sha256: sent.sha256, size: 512 * MiB });
    expect(received).toMatchObject({
      status: 200,
      length: String(512 * MiB),
      size: 512 * MiB,
      sha256: sent.sha256,
    });
    // Buffering the blob would need 512 MiB; streaming stays within GC slack.
    expect(uploadPeak).toBeLessThan(160 * MiB);
    expect(peak - baseline).toBeLessThan(160 * MiB);
  }, 120_000);

  it('keeps the connection for the next request after a successful upload', async () => {
    const { w, port } = await listening();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    w.app.server.on('connection', (socket) => sockets.add(socket));
    for (let i = 0; i < 3; i++) {
      const outcome = await streamUpload({
        port,
        token: w.alice.token,
        block: randomBytes(1000),
        blocks: 3,
        agent,
      });
      expect(outcome.status).toBe(200);
    }
    agent.destroy();
    expect(sockets.size).toBe(1);
  });

  it('fails a download whose stored bytes no longer match their digest', async () => {
    const { w, port } = await listening();
    // Several read slices: the first ones are on their way before the digest is known.
    const sent = await streamUpload({
      port,
      token: w.alice.token,
      block: randomBytes(MiB),
      blocks: 4,
    });
    writeFileSync(blobPath(w, sent.sha256), randomBytes(4 * MiB));
    const received = await streamDownload(port, w.alice.token, sent.sha256);
    expect(received.status).toBe(200);
    expect(received.size).toBeGreaterThan(0);
    expect(received.size).toBeLessThan(4 * MiB);
    expect(received.sha256).not.toBe(sent.sha256);
  });

  it('answers 500 for a damaged blob that fits in one read slice, sending none of it', async () => {
    const { w, port } = await listening();
    const sent = await streamUpload({
      port,
      token: w.alice.token,
      block: randomBytes(256 * KiB),
      blocks: 1,
    });
    writeFileSync(blobPath(w, sent.sha256), randomBytes(256 * KiB));
    const received = await streamDownload(port, w.alice.token, sent.sha256);
    expect(received.status).toBe(500);
    expect(received.size).toBeLessThan(256 * KiB);
  });

  it('sends intact bytes to a client that reads slowly (slices are reused once written)', async () => {
    const { w, port } = await listening();
    const sent = await streamUpload({
      port,
      token: w.alice.token,
      block: randomBytes(8 * MiB),
      blocks: 1,
    });
    const received = await slowDownload(port, w.alice.token, sent.sha256);
    expect(received).toEqual({ status: 200, size: 8 * MiB, sha256: sent.sha256 });
  });

  it('sends intact bytes when a hook puts a stream between the body and the response', async () => {
    // Read slices are reused once the socket has written them; a stream in between holds
    // slices the response knows nothing about, so nothing may be reused behind its back.
    const { w, port } = await listening({
      extend: (app) =>
        app.addHook('onSend', async (_request, _reply, payload) =>
          payload instanceof Readable
            ? payload.pipe(new PassThrough({ highWaterMark: 4 * MiB }))
            : payload,
        ),
    });
    // Every slice differs, so a slice read over another one still on its way shows.
    const sent = await streamUpload({
      port,
      token: w.alice.token,
      block: randomBytes(8 * MiB),
      blocks: 1,
    });
    const received = await slowDownload(port, w.alice.token, sent.sha256);
    expect(received).toEqual({ status: 200, size: 8 * MiB, sha256: sent.sha256 });
  });

  it('keeps memory flat downloading through a stream a hook put in between (no slice kept for reuse)', async () => {
    const { w, port } = await listening({
      extend: (app) =>
        app.addHook('onSend', async (_request, _reply, payload) =>
          payload instanceof Readable ? payload.pipe(new PassThrough()) : payload,
        ),
    });
    const sent = await streamUpload({
      port,
      token: w.alice.token,
      block: randomBytes(MiB),
      blocks: 384,
    });
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const baseline = process.memoryUsage().rss;
    const received = await streamDownload(port, w.alice.token, sent.sha256);
    clearInterval(sampler);
    expect(received).toMatchObject({ status: 200, size: 384 * MiB, sha256: sent.sha256 });
    expect(peak - baseline).toBeLessThan(160 * MiB);
  }, 120_000);

  it('runs the blob benchmark', async () => {
    const { w, port } = await listening();
    const result = await runBlobBench(`http://127.0.0.1:${port}`, w.alice.token, 8, {
      serverPid: process.pid,
    });
    expect(result).toMatchObject({ sizeMiB: 8, verified: true });
    expect(result.uploadMiBps).toBeGreaterThan(0);
    expect(result.downloadMiBps).toBeGreaterThan(0);
    expect(result.serverRssMiB?.peak).toBeGreaterThan(0);
  });
});
