import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

const MiB = 1024 * 1024;

export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`stored bytes hash to ${actual}, not ${expected}`);
    this.name = 'DigestMismatchError';
  }
}

/** What a verified body reads from: a stored blob opened for positional reads. */
export interface BlobSource {
  readonly size: number;
  /** Reads into `buffer` from `position`; resolves with the count, 0 at the end. */
  readAt(buffer: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
}

export interface VerifiedBodyOptions {
  readonly chunkBytes?: number;
  /**
   * How many bytes of this body its destination has taken but not finished with (for a
   * response the stream is piped into: `res.writableLength`), or undefined when that is
   * not known. Chunk buffers whose bytes have all been finished with are read into again
   * rather than allocating a fresh one per chunk: the allocations, and the page faults of
   * touching new memory, cost more than the hashing.
   */
  readonly unflushedBytes?: () => number | undefined;
}

/**
 * A whole stored blob as a stream, hashed as it is read, in `chunkBytes` slices. The
 * last slice is released only once the digest matches: a copy that no longer matches
 * its address is never delivered whole, the transfer fails short of its Content-Length
 * (with a DigestMismatchError) instead.
 */
export function createVerifiedBody(
  source: BlobSource,
  expected: string,
  { chunkBytes = MiB, unflushedBytes }: VerifiedBodyOptions = {},
): Readable {
  const hash = createHash('sha256');
  let position = 0;
  // Buffers handed out, oldest first, with the body offset at which each one ends.
  const lent: { buffer: Buffer; end: number }[] = [];
  const spare: Buffer[] = [];

  /** A buffer to read the next slice into, and whether to keep track of it for reuse. */
  const bufferFor = (body: Readable): { buffer: Buffer; tracked: boolean } => {
    const unflushed = unflushedBytes?.();
    if (unflushed === undefined) {
      lent.length = 0;
      return { buffer: Buffer.allocUnsafeSlow(chunkBytes), tracked: false };
    }
    // Bytes the stream still buffers, or the destination has not written, are in use.
    const released = position - body.readableLength - unflushed;
    while (lent.length > 0 && lent[0]!.end <= released) spare.push(lent.shift()!.buffer);
    return { buffer: spare.pop() ?? Buffer.allocUnsafeSlow(chunkBytes), tracked: true };
  };

  return new Readable({
    highWaterMark: 2 * chunkBytes,
    read() {
      const { buffer, tracked } = bufferFor(this);
      const wanted = Math.min(chunkBytes, source.size - position);
      source.readAt(buffer.subarray(0, wanted), position).then(
        (count) => {
          if (count === 0 && wanted > 0) {
            this.destroy(new Error(`stored blob ended at ${position} of ${source.size} bytes`));
            return;
          }
          const chunk = buffer.subarray(0, count);
          hash.update(chunk);
          position += count;
          if (tracked) lent.push({ buffer, end: position });
          if (position < source.size) {
            this.push(chunk);
            return;
          }
          const actual = hash.digest('hex');
          if (actual !== expected) {
            this.destroy(new DigestMismatchError(expected, actual));
            return;
          }
          this.push(chunk);
          this.push(null);
        },
        (err: Error) => this.destroy(err),
      );
    },
    destroy(err, done) {
      source.close().then(
        () => done(err),
        (closeErr: Error) => done(err ?? closeErr),
      );
    },
  });
}
