import { describe, expect, it } from 'vitest';
import { runsServer, SERVER_HEAP_FLAGS, YOUNG_GENERATION_CAP_MIB } from '../src/heap-flags.js';

describe('the server heap flags', () => {
  it('are for the server only: serve, or no command at all (serve is the default)', () => {
    expect(runsServer([])).toBe(true);
    expect(runsServer(['serve', '--data', 'd'])).toBe(true);
    expect(runsServer(['--port', '47732', '--data', './server-data'])).toBe(true);
    expect(runsServer(['replay', '--data', 'd'])).toBe(false);
    expect(runsServer(['user', 'add', 'serve'])).toBe(false);
    expect(runsServer(['backup', '--data', 'd', '--out', 'serve'])).toBe(false);
  });

  it('never set a growth factor below 1 (0 crashes V8) and keep the old generation growing', () => {
    const value = (name: string) =>
      Number(SERVER_HEAP_FLAGS.find((f) => f.startsWith(`--${name}=`))?.split('=')[1]);
    expect(value('semi-space-growth-factor')).toBeGreaterThanOrEqual(1);
    expect(value('heap-growing-percent')).toBeGreaterThan(0);
    // V8 sizes the young generation in powers of two from 2 × 1 MiB: a cap between two
    // sizes would be overshot to the next one.
    expect(Math.log2(YOUNG_GENERATION_CAP_MIB) % 1).toBe(0);
    expect(YOUNG_GENERATION_CAP_MIB).toBeGreaterThan(2);
  });
});
