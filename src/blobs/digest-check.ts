import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export class DigestMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`stored bytes hash to ${actual}, not ${expected}`);
    this.name = 'DigestMismatchError';
  }
}

/**
 * Passes bytes through while hashing them and holds back the last chunk until the
 * digest is known, so a copy that no longer matches its address is never delivered
 * whole: the transfer fails short of its Content-Length instead.
 */
export function createDigestCheck(expected: string): Transform {
  const hash = createHash('sha256');
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      const previous = held;
      held = chunk;
      done(null, previous);
    },
    flush(done) {
      const actual = hash.digest('hex');
      if (actual !== expected) done(new DigestMismatchError(expected, actual));
      else done(null, held);
    },
  });
}
