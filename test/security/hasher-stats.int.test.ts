import { describe, expect, it } from 'vitest';
import { createPasswordHasher } from '../../src/security/passwords.js';

describe('the password hasher queue figures (metrics)', () => {
  it('counts running, queued and shed checks', async () => {
    const hasher = createPasswordHasher({ maxConcurrent: 1, maxQueued: 1 });
    const stored = await hasher.hash('correct horse battery');
    expect(hasher.stats!()).toEqual({ running: 0, queued: 0, shed: 0 });
    const first = hasher.verify(stored, 'correct horse battery');
    const second = hasher.verify(stored, 'wrong');
    const third = hasher.verify(stored, 'wrong again');
    await expect(third).rejects.toMatchObject({ status: 503, code: 'server_busy' });
    // The first holds the slot, the second waits for it; the third found the queue full.
    expect(hasher.stats!()).toEqual({ running: 1, queued: 1, shed: 1 });
    expect(await first).toBe(true);
    expect(await second).toBe(false);
    expect(hasher.stats!()).toEqual({ running: 0, queued: 0, shed: 1 });
  });
});
