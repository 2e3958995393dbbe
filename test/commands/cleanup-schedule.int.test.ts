import { afterEach, describe, expect, it, vi } from 'vitest';
import { startCleanupSchedule, type CleanupSchedule } from '../../src/commands/cleanup-schedule.js';
import type { CleanupReport } from '../../src/commands/cleanup-service.js';
import { useRuntimes } from '../helpers/runtime.js';
import { record } from './cleanup-fixtures.js';

const openRuntime = useRuntimes();
const schedules: CleanupSchedule[] = [];
afterEach(async () => {
  for (const s of schedules.splice(0)) await s.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startCleanupSchedule', () => {
  it('runs the cleanup at start and again every interval, and removes expired sessions', async () => {
    const rt = openRuntime();
    const now = rt.clock.now();
    const expireSession = (hash: string) =>
      record(
        rt,
        'user/u1',
        [
          {
            type: 'UserLoggedIn',
            data: { userId: 'u1', sessionHash: hash, expiresAt: now.toISOString() },
          },
        ],
        now,
      );
    expireSession('s1');
    const reports: CleanupReport[] = [];
    const errors: unknown[] = [];
    schedules.push(
      startCleanupSchedule({
        cleanup: rt.cleanup,
        clock: rt.clock,
        intervalMs: 20,
        onReport: (r) => reports.push(r),
        onError: (err) => errors.push(err),
      }),
    );
    await vi.waitFor(() => expect(reports.length).toBeGreaterThanOrEqual(1), { timeout: 2000 });
    expect(reports[0]).toMatchObject({ sessions: 1 });
    expireSession('s2');
    await vi.waitFor(() => expect(reports.some((r, i) => i > 0 && r.sessions === 1)).toBe(true), {
      timeout: 2000,
    });
    expect(rt.db.prepare('SELECT count(*) FROM sessions').pluck().get()).toBe(0);
    expect(rt.store.readStream('server').map((e) => e.type)).toEqual(['CleanupRan', 'CleanupRan']);
    expect(errors).toEqual([]);
  });

  it('stops running after stop() and waits for a run under way', async () => {
    let runs = 0;
    let finished = 0;
    const cleanup = {
      run: async () => {
        runs++;
        await sleep(30);
        finished++;
        return {} as CleanupReport;
      },
    };
    const schedule = startCleanupSchedule({
      cleanup,
      clock: { now: () => new Date() },
      intervalMs: 5,
      onError: () => undefined,
    });
    await vi.waitFor(() => expect(runs).toBeGreaterThanOrEqual(2), { timeout: 2000 });
    await schedule.stop();
    expect(finished).toBe(runs);
    const after = runs;
    await sleep(50);
    expect(runs).toBe(after);
  });

  it('keeps going after a failed run', async () => {
    let runs = 0;
    const errors: unknown[] = [];
    const cleanup = {
      run: async () => {
        runs++;
        if (runs === 1) throw new Error('disk on fire');
        return {} as CleanupReport;
      },
    };
    schedules.push(
      startCleanupSchedule({
        cleanup,
        clock: { now: () => new Date() },
        intervalMs: 5,
        onError: (err) => errors.push(err),
      }),
    );
    await vi.waitFor(() => expect(runs).toBeGreaterThanOrEqual(2), { timeout: 2000 });
    expect(errors).toEqual([new Error('disk on fire')]);
  });

  it('never runs with an interval of 0', async () => {
    let runs = 0;
    const schedule = startCleanupSchedule({
      cleanup: { run: async () => (runs++, {} as CleanupReport) },
      clock: { now: () => new Date() },
      intervalMs: 0,
      onError: () => undefined,
    });
    await sleep(30);
    await schedule.stop();
    expect(runs).toBe(0);
  });
});
