import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { streamUpload } from './blob-client.js';
import { logHead, openBlobWorld, storedFiles, tempFiles, type BlobWorld } from './blob-fixtures.js';

const KiB = 1024;

// Scaled down from the defaults (4 KiB/s over 30 s windows) so that a test takes seconds.
const RATE = { min_upload_bytes_per_s: 2 * KiB };
const WINDOW = { upload_rate_window_ms: 1_000 };

let world: BlobWorld | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function listening() {
  world = await openBlobWorld({ limits: RATE, timeouts: WINDOW });
  await world.app.listen({ host: '127.0.0.1', port: 0 });
  return { w: world, port: (world.app.server.address() as AddressInfo).port };
}

describe('an authenticated upload that trickles', () => {
  it.each([
    ['with a Content-Length', false],
    ['chunked', true],
  ])(
    'is cut with 408 upload_too_slow, leaving nothing behind (%s)',
    async (_name, chunked) => {
      const { w, port } = await listening();
      const head = logHead(w);
      // One byte every 250 ms: never a stall (request_ms is 30 s), but 4 B/s. Left alone
      // it would finish, after 10 s, with 200.
      const outcome = await streamUpload({
        port,
        token: w.alice.token,
        block: Buffer.from('x'),
        blocks: 40,
        pauseMs: 250,
        chunked,
      });
      expect(outcome.status).toBe(408);
      expect(JSON.parse(outcome.body!)).toEqual({
        error: expect.stringContaining('bytes per second'),
        code: 'upload_too_slow',
      });
      expect(logHead(w)).toBe(head);
      expect(storedFiles(w)).toEqual([]);
      await expect.poll(() => tempFiles(w), { timeout: 5_000 }).toEqual([]);
    },
    30_000,
  );

  it('is cut when a fast start turns into a trickle', async () => {
    const { w, port } = await listening();
    const head = logHead(w);
    // 64 KiB at once would pay for half a minute at the minimum rate, were the rate
    // averaged over the whole upload; each window must carry its own share.
    const outcome = await burstThenTrickle(port, w.alice.token, 64 * KiB);
    expect(outcome.status).toBe(408);
    expect(JSON.parse(outcome.body)).toMatchObject({ code: 'upload_too_slow' });
    expect(logHead(w)).toBe(head);
  }, 30_000);
});

/** Sends `burst` bytes of a file at once, then one byte every 250 ms, for at most 10 s. */
function burstThenTrickle(port: number, token: string, burst: number) {
  const boundary = 'ratetest';
  return new Promise<{ status?: number; body: string }>((resolve) => {
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/api/v1/blobs/',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
    });
    let done = false;
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        done = true;
        resolve({ status: res.statusCode, body });
      });
    });
    req.on('error', () => {
      done = true;
      resolve({ body: '' });
    });
    req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n`);
    req.write(Buffer.alloc(burst, 1));
    void (async () => {
      for (let i = 0; i < 40 && !done; i++) {
        await sleep(250);
        if (!done) req.write('x');
      }
      if (!done) req.end(`\r\n--${boundary}--\r\n`);
    })();
  });
}

describe('an upload over a slow but real uplink', () => {
  it('goes through over several windows', async () => {
    const { w, port } = await listening();
    // 4 KiB every 100 ms (40 KiB/s, twenty times the minimum) for about 3 s.
    const outcome = await streamUpload({
      port,
      token: w.alice.token,
      block: randomBytes(4 * KiB),
      blocks: 30,
      pauseMs: 100,
    });
    expect(outcome.status).toBe(200);
    expect(JSON.parse(outcome.body!)).toEqual({ sha256: outcome.sha256, size: outcome.size });
  }, 30_000);
});
