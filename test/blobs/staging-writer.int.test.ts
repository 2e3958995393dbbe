import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStagingWriter } from '../../src/blobs/staging-writer.js';

const KiB = 1024;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'verstak-staging-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Feeds `bytes` to a writer in socket-sized chunks, honouring its requests to slow down. */
async function feed(writer: ReturnType<typeof createStagingWriter>, bytes: Buffer, chunk = 1000) {
  for (let at = 0; at < bytes.length; at += chunk) {
    const slowDown = writer.add(bytes.subarray(at, at + chunk));
    if (slowDown) await slowDown;
  }
}

describe('createStagingWriter', () => {
  it.each([0, 1, 4 * KiB, 100 * KiB + 7])(
    'writes %i bytes in order across batches',
    async (size) => {
      const path = join(dir, 'staged');
      const handle = await open(path, 'wx');
      const bytes = randomBytes(size);
      const writer = createStagingWriter(handle, { batchBytes: 4 * KiB, syncEveryBytes: 16 * KiB });
      await feed(writer, bytes);
      await writer.finish();
      await handle.close();
      expect(readFileSync(path).equals(bytes)).toBe(true);
    },
  );

  it('fails when a write fails (a full disk)', async () => {
    const handle = await open('/dev/full', 'w');
    const writer = createStagingWriter(handle, { batchBytes: 4 * KiB });
    const outcome = await feed(writer, randomBytes(64 * KiB))
      .then(() => writer.finish())
      .catch((err: NodeJS.ErrnoException) => err.code);
    await writer.settle();
    await handle.close();
    expect(outcome).toBe('ENOSPC');
  });

  it('stops an upload whose early sync failed, while it is still arriving', async () => {
    // A FIFO takes writes (up to its 64 KiB buffer) but refuses fdatasync: a real failing sync.
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const handle = await open(fifo, 'r+');
    const writer = createStagingWriter(handle, { batchBytes: KiB, syncEveryBytes: KiB });
    const outcome = await feed(writer, randomBytes(32 * KiB), KiB)
      .then(() => 'fed')
      .catch((err: NodeJS.ErrnoException) => err.code);
    await writer.settle();
    await handle.close();
    expect(outcome).toBe('EINVAL');
  });
});
