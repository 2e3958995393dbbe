import { randomFillSync } from 'node:crypto';

const ID_BYTES = 8;
const POOL_IDS = 512;

/**
 * Request ids as 16 random hex characters, drawn from a pool filled 512 ids at a time:
 * one randomBytes call per request was a measurable share of a small request's cost.
 */
export function createRequestIds(): () => string {
  const pool = Buffer.alloc(ID_BYTES * POOL_IDS);
  let offset = pool.length;
  return () => {
    if (offset === pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const id = pool.toString('hex', offset, offset + ID_BYTES);
    offset += ID_BYTES;
    return id;
  };
}
