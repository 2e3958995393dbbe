import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createIdleReclaimer,
  exposeGc,
  RELEASE_REPEATS,
  type IdleReclaimer,
} from '../src/idle-memory.js';

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
    let scavenges = 0;
    reclaimer = createIdleReclaimer({
      quietMs: QUIET_MS,
      sampleWindowMs: QUIET_MS,
      minGrowthBytes: GROWTH,
      gc: () => {
        collections += 1;
        gc();
      },
      scavenge: () => (scavenges += 1),
    });
    // A load: requests every 20 ms for 3 quiet periods, each keeping some 1 MiB alive.
    const usedBefore = getHeapStatistics().used_heap_size;
    for (let i = 0; i < 24; i++) {
      reclaimer.activity();
      retained.push(Array.from({ length: 32 * 1024 }, (_, n) => ({ n, i })));
      await sleep(20);
    }
    expect(getHeapStatistics().used_heap_size - usedBefore).toBeGreaterThan(GROWTH);
    expect([scavenges, collections]).toEqual([0, 0]);
    await until(() => collections > 0, QUIET_MS * 10);
    expect([scavenges, collections]).toEqual([1, 1]);
    // Quiet again without new requests: nothing more to do.
    await sleep(QUIET_MS * 3);
    expect([scavenges, collections]).toEqual([1, 1]);
  });

  it('collects only once a whole sample window after its scavenge passed without requests', async () => {
    const events: string[] = [];
    let growth = GROWTH;
    reclaimer = createIdleReclaimer({
      quietMs: QUIET_MS,
      sampleWindowMs: QUIET_MS * 2,
      minGrowthBytes: GROWTH,
      usedHeapBytes: () => growth,
      gc: () => {
        events.push('collect');
        growth = GROWTH; // what the load left is freed
      },
      scavenge: () => events.push('scavenge'),
    });
    growth = 2 * GROWTH;
    reclaimer.activity();
    await until(() => events.length > 0, QUIET_MS * 4);
    expect(events).toEqual(['scavenge']);
    // A request inside the window: the window starts over with a scavenge of its own.
    await sleep(QUIET_MS);
    reclaimer.activity();
    await until(() => events.length > 1, QUIET_MS * 4);
    expect(events).toEqual(['scavenge', 'scavenge']);
    await until(() => events.length > 2, QUIET_MS * 6);
    expect(events).toEqual(['scavenge', 'scavenge', 'collect']);
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

  it('hands memory back after each collection and after the next quiet periods, then stops', async () => {
    let collections = 0;
    let releases = 0;
    reclaimer = createIdleReclaimer({
      quietMs: QUIET_MS,
      minGrowthBytes: GROWTH,
      gc: () => (collections += 1),
      release: () => (releases += 1),
    });
    reclaimer.collect();
    expect([collections, releases]).toEqual([1, 1]);
    // Requests keep coming: the repeats wait for quiet.
    for (let i = 0; i < 40; i++) {
      reclaimer.activity();
      await sleep(20);
    }
    expect(releases).toBe(1);
    await until(() => releases === 1 + RELEASE_REPEATS, QUIET_MS * (RELEASE_REPEATS + 4));
    expect(releases).toBe(1 + RELEASE_REPEATS);
    await sleep(QUIET_MS * 3);
    expect([collections, releases]).toEqual([1, 1 + RELEASE_REPEATS]);
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
