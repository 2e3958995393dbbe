import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createVerifiedBody,
  DigestMismatchError,
  type BlobSource,
  type VerifiedBodyOptions,
} from '../../src/blobs/digest-check.js';

const KiB = 1024;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'verstak-verified-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A real file opened for positional reads, as the file store opens a blob. */
async function fileSource(bytes: Buffer): Promise<BlobSource & { closed: () => boolean }> {
  const path = join(dir, `blob-${Math.random()}`);
  writeFileSync(path, bytes);
  const handle = await open(path, 'r');
  let closed = false;
  return {
    size: bytes.length,
    readAt: async (buffer, position) =>
      (await handle.read(buffer, 0, buffer.length, position)).bytesRead,
    close: async () => {
      closed = true;
      await handle.close();
    },
    closed: () => closed,
  };
}

/** Reads the body to its end, copying each chunk as it arrives (as a socket write does). */
async function drain(body: Readable) {
  const copies: Buffer[] = [];
  const backing = new Set<ArrayBufferLike>();
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      copies.push(Buffer.from(chunk));
      backing.add(chunk.buffer);
    }
    return { bytes: Buffer.concat(copies), buffers: backing.size };
  } catch (err) {
    return { bytes: Buffer.concat(copies), buffers: backing.size, err };
  }
}

const read = async (bytes: Buffer, expected: string, options: VerifiedBodyOptions = {}) => {
  const source = await fileSource(bytes);
  const outcome = await drain(createVerifiedBody(source, expected, options));
  return { ...outcome, closed: source.closed() };
};

describe('createVerifiedBody', () => {
  it.each([0, 1, 4 * KiB - 1, 4 * KiB, 4 * KiB + 1, 10 * KiB])(
    'delivers %i bytes that match their digest, then closes the blob',
    async (size) => {
      const bytes = randomBytes(size);
      const outcome = await read(bytes, sha256(bytes), { chunkBytes: 4 * KiB });
      expect(outcome.err).toBeUndefined();
      expect(outcome.bytes.equals(bytes)).toBe(true);
      expect(outcome.closed).toBe(true);
    },
  );

  it('never delivers a damaged copy whole: it fails short with a DigestMismatchError', async () => {
    const bytes = randomBytes(10 * KiB);
    const outcome = await read(bytes, sha256(randomBytes(10 * KiB)), { chunkBytes: 4 * KiB });
    expect(outcome.err).toBeInstanceOf(DigestMismatchError);
    expect(outcome.bytes.equals(bytes.subarray(0, 8 * KiB))).toBe(true);
    expect(outcome.closed).toBe(true);
  });

  it('fails a blob that ends before its recorded size', async () => {
    const bytes = randomBytes(10 * KiB);
    const source = await fileSource(bytes.subarray(0, 6 * KiB));
    const outcome = await drain(
      createVerifiedBody({ ...source, size: bytes.length }, sha256(bytes), { chunkBytes: 4 * KiB }),
    );
    expect((outcome.err as Error).message).toMatch(/ended at 6144 of 10240 bytes/);
    expect(outcome.bytes.length).toBeLessThan(bytes.length);
  });

  it('allocates a buffer per slice when it cannot tell what the destination still holds', async () => {
    const bytes = randomBytes(64 * KiB);
    const outcome = await read(bytes, sha256(bytes), { chunkBytes: 4 * KiB });
    expect(outcome.bytes.equals(bytes)).toBe(true);
    expect(outcome.buffers).toBe(16);
  });

  it('reads into released buffers again when the destination reports what it holds', async () => {
    const bytes = randomBytes(64 * KiB);
    const outcome = await read(bytes, sha256(bytes), {
      chunkBytes: 4 * KiB,
      unflushedBytes: () => 0,
    });
    expect(outcome.bytes.equals(bytes)).toBe(true);
    expect(outcome.buffers).toBeLessThan(16);
  });

  it('never reads into a buffer whose bytes the destination still holds', async () => {
    const bytes = randomBytes(256 * KiB);
    const source = await fileSource(bytes);
    // A slow destination that keeps the chunks themselves (as a socket keeps a pending
    // write) and finishes with them later; each is checked when it is finished with.
    const held: { chunk: Buffer; at: number }[] = [];
    let taken = 0;
    let finished = 0;
    let damaged = 0;
    const finishOne = () => {
      const next = held.shift();
      if (!next) return;
      if (!next.chunk.equals(bytes.subarray(next.at, next.at + next.chunk.length))) damaged++;
      finished += next.chunk.length;
    };
    const body = createVerifiedBody(source, sha256(bytes), {
      chunkBytes: 4 * KiB,
      unflushedBytes: () => taken - finished,
    });
    await new Promise<void>((resolve, reject) => {
      body.on('data', (chunk: Buffer) => {
        held.push({ chunk, at: taken });
        taken += chunk.length;
        setTimeout(finishOne, held.length % 3);
      });
      body.on('end', resolve);
      body.on('error', reject);
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    while (held.length > 0) finishOne();
    expect(finished).toBe(bytes.length);
    expect(damaged).toBe(0);
  });
});
