import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { createIdleReclaimer, exposeGc, type IdleReclaimer } from '../src/idle-memory.js';

const QUIET_MS = 500;
const GROWTH = 16 * 1024 * 1024;

/** Waits until `done()` or `ms` have passed, in steps: the timer fires on its own schedule. */
async function until(done: () => boolean, ms: number): Promise<void> {
  for (let waited = 0; waited < ms && !done(); waited += 20) await sleep(20);
}

describe('the idle reclaimer', () => {
  const gc = exposeGc();
  let reclaimer: IdleReclaimer | undefined;
  let retained: unknown[] = [];
  afterEach(() => {
    reclaimer?.stop();
    retained = [];
  });

  it('collects once requests stop after a load that grew the heap, not while they come', async () => {
    let collections = 0;
    reclaimer = createIdleReclaimer({
      quietMs: QUIET_MS,
      minGrowthBytes: GROWTH,
      gc: () => {
        collections += 1;
        gc();
      },
    });
    // A load: requests every 20 ms for 3 quiet periods, each keeping some 1 MiB alive.
    const usedBefore = getHeapStatistics().used_heap_size;
    for (let i = 0; i < 24; i++) {
      reclaimer.activity();
      retained.push(Array.from({ length: 32 * 1024 }, (_, n) => ({ n, i })));
      await sleep(20);
    }
    expect(getHeapStatistics().used_heap_size - usedBefore).toBeGreaterThan(GROWTH);
    expect(collections).toBe(0);
    await until(() => collections > 0, QUIET_MS * 10);
    expect(collections).toBe(1);
    // Quiet again without new requests: nothing more to do.
    await sleep(QUIET_MS * 3);
    expect(collections).toBe(1);
  });

  it('skips the collection after requests that left the heap as it was', async () => {
    let collections = 0;
    reclaimer = createIdleReclaimer({
      quietMs: QUIET_MS,
      minGrowthBytes: GROWTH,
      gc: () => {
        collections += 1;
        gc();
      },
    });
    reclaimer.collect();
    expect(collections).toBe(1);
    reclaimer.activity();
    await sleep(QUIET_MS * 4);
    expect(collections).toBe(1);
  });

  it('runs a real full collection: what the load left unreachable is freed', () => {
    const holder: { garbage?: unknown[] } = {
      garbage: Array.from({ length: 256 * 1024 }, (_, n) => ({ n })),
    };
    const withGarbage = getHeapStatistics().used_heap_size;
    expect(holder.garbage?.length).toBe(256 * 1024);
    delete holder.garbage;
    createIdleReclaimer({ gc }).collect();
    expect(getHeapStatistics().used_heap_size).toBeLessThan(withGarbage - 4 * 1024 * 1024);
  });
});
