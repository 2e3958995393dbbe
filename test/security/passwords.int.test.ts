import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createPasswordHasher } from '../../src/security/passwords.js';

/** `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (parameters in any order) → its parts. */
function parsePhc(phc: string) {
  const [empty, algorithm, version, params, salt, hash, ...rest] = phc.split('$');
  if (empty !== '' || rest.length > 0 || !salt || !hash || !params) {
    throw new Error(`not a PHC string: ${phc}`);
  }
  const p = Object.fromEntries(params.split(',').map((kv) => kv.split('=') as [string, string]));
  const bytes = (b64: string) => Buffer.from(b64, 'base64').length;
  return {
    algorithm,
    version,
    m: Number(p.m),
    t: Number(p.t),
    p: Number(p.p),
    saltBytes: bytes(salt),
    hashBytes: bytes(hash),
  };
}

const rejection = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
};

describe('password hashing (real argon2)', () => {
  it('hashes with argon2id, m=19456, t=2, p=1, a 16-byte salt and a 32-byte digest', async () => {
    const hasher = createPasswordHasher();
    const phc = await hasher.hash('correct horse battery staple');
    expect(parsePhc(phc)).toEqual({
      algorithm: 'argon2id',
      version: 'v=19',
      m: 19456,
      t: 2,
      p: 1,
      saltBytes: 16,
      hashBytes: 32,
    });
    expect(phc).not.toContain('correct horse');
  });

  it('salts every hash', async () => {
    const hasher = createPasswordHasher();
    const [a, b] = await Promise.all([hasher.hash('same password'), hasher.hash('same password')]);
    expect(a).not.toBe(b);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const hasher = createPasswordHasher();
    const phc = await hasher.hash('right password');
    expect(await hasher.verify(phc, 'right password')).toBe(true);
    expect(await hasher.verify(phc, 'wrong password')).toBe(false);
    expect(await hasher.verify(phc, 'right password ')).toBe(false);
    expect(await hasher.verify('not a hash', 'right password')).toBe(false);
  });

  it('refuses every password when there is no stored hash, even the dummy one', async () => {
    const hasher = createPasswordHasher();
    expect(await hasher.verify(undefined, 'anything')).toBe(false);
    expect(await hasher.verify(undefined, 'verstak-dummy-password')).toBe(false);
  });

  it('still runs argon2, under the same bound, when there is no stored hash', async () => {
    const hasher = createPasswordHasher({ maxConcurrent: 1, maxQueued: 0 });
    await hasher.verify(undefined, 'warm up the dummy hash');
    // With the only slot busy, a verify that skipped argon2 would answer false at once;
    // one that queues for argon2 is refused because no queue is allowed.
    const busy = hasher.hash('occupies the slot');
    const err = await rejection(hasher.verify(undefined, 'unknown user'));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 503, code: 'server_busy' });
    await busy;
  });
});

describe('password hashing: the concurrency bound', () => {
  it('refuses hashes beyond the running and queued bound with 503 server_busy', async () => {
    const hasher = createPasswordHasher({ maxConcurrent: 1, maxQueued: 1 });
    const [first, second, third] = await Promise.allSettled([
      hasher.hash('one'),
      hasher.hash('two'),
      hasher.hash('three'),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('fulfilled');
    expect(third.status).toBe('rejected');
    const err = (third as PromiseRejectedResult).reason as AppError;
    expect(err).toBeInstanceOf(AppError);
    expect({ status: err.status, code: err.code }).toEqual({ status: 503, code: 'server_busy' });
    expect(err.headers['retry-after']).toBe('1');
    expect(await hasher.verify((first as PromiseFulfilledResult<string>).value, 'one')).toBe(true);
  });

  it('frees its slots after work finishes or fails', async () => {
    const hasher = createPasswordHasher({ maxConcurrent: 1, maxQueued: 1 });
    await Promise.all([hasher.verify('not a hash', 'x'), hasher.hash('queued')]);
    const again = await Promise.allSettled([hasher.hash('a'), hasher.hash('b')]);
    expect(again.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  });
});
