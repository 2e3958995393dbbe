import { randomBytes } from 'node:crypto';
import type { AppendRequest, EventMeta } from '../../src/log/index.js';
import { UserRegistered } from '../../src/log/events/index.js';

// One randomBytes call per field costs more than the append itself; draw from a pool.
let pool = Buffer.alloc(0);
let poolAt = 0;
function random(bytes: number): Buffer {
  if (poolAt + bytes > pool.length) {
    pool = randomBytes(1 << 16);
    poolAt = 0;
  }
  poolAt += bytes;
  return pool.subarray(poolAt - bytes, poolAt);
}
const b64 = (bytes: number) => random(bytes).toString('base64').replace(/=+$/, '');

let counter = 0;

/**
 * The data of one registration as the user service would append it: a random user id, a
 * unique handle in random order (like real ones, so unique indexes see random inserts) and
 * an argon2id digest of the real length, with a fresh salt and hash.
 */
function registration() {
  counter += 1;
  // The shape of randomIds.userId(): 12 random bytes in hex.
  const userId = random(12).toString('hex');
  const username = `${userId.slice(0, 8)}-${counter.toString(36)}`;
  return {
    userId,
    username,
    email: `${username}@example.org`,
    passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$${b64(16)}$${b64(32)}`,
    confirmed: true,
    locale: 'en',
    registeredBy: 'self' as const,
  };
}

export interface EventSource {
  /** The next `size` events, one append request each, with the expected stream versions. */
  batch(size: number): AppendRequest[];
  /**
   * Forgets events built but never appended (a timed window that ran out of time): the
   * next event opens a new stream, so expected versions stay true.
   */
  discardPending(): void;
  /** How events map to streams, for the report. */
  readonly note: string;
}

/**
 * UserRegistered events with distinct users. With `perStream` 1 each opens its own stream
 * `user/<id>`, as registrations do; a larger value appends that many to one stream before
 * opening the next, standing in for a long stream such as a vault's operations.
 */
export function createEventSource(perStream: number): EventSource {
  let stream = '';
  let version = perStream;
  const next = (): AppendRequest => {
    const data = registration();
    if (version >= perStream) {
      stream = `user/${data.userId}`;
      version = 0;
    }
    version += 1;
    return {
      stream,
      expectedVersion: version - 1,
      events: [{ type: UserRegistered.type, data }],
    };
  };
  return {
    batch: (size) => Array.from({ length: size }, next),
    discardPending() {
      version = perStream;
    },
    note:
      perStream === 1
        ? 'each UserRegistered event opens its own stream user/<id> (version 1)'
        : `${perStream} UserRegistered events (distinct users) per stream user/<id>`,
  };
}

export const requestMeta = (): EventMeta => ({
  actor: 'self',
  ip: '203.0.113.7',
  requestId: random(8).toString('hex'),
});
