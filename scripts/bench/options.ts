import { parseArgs } from 'node:util';
import type { BenchOptions } from './section.js';

const FULL_SIZES = [10_000, 100_000, 1_000_000];
const QUICK_SIZES = [1_000, 10_000];

export interface CliOptions extends BenchOptions {
  readonly sections: readonly string[];
  readonly json: boolean;
  readonly help: boolean;
}

/** Sizes below the cap, then the cap itself: `--max-events` is the largest log built. */
export function sizesUpTo(base: readonly number[], maxEvents: number | undefined): number[] {
  if (maxEvents === undefined) return [...base];
  return [...base.filter((s) => s < maxEvents), maxEvents];
}

export function parseBenchArgs(argv: readonly string[]): CliOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      'max-events': { type: 'string' },
      'window-ms': { type: 'string' },
      'events-per-stream': { type: 'string' },
      'blob-mib': { type: 'string' },
      'pull-only': { type: 'boolean', default: false },
      server: { type: 'string' },
      baseline: { type: 'string' },
      scale: { type: 'string' },
      rounds: { type: 'string' },
    },
  });
  const positive = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const n = Number(value.replace(/_/g, ''));
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
    return n;
  };
  const fraction = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!(n > 0 && n <= 1)) throw new Error(`--${name} must be a number in (0, 1]`);
    return n;
  };
  const quick = values.quick;
  return {
    sections: positionals,
    json: values.json,
    help: values.help,
    quick,
    sizes: sizesUpTo(
      quick ? QUICK_SIZES : FULL_SIZES,
      positive('max-events', values['max-events']),
    ),
    windowMs: positive('window-ms', values['window-ms']) ?? (quick ? 500 : 3000),
    eventsPerStream: positive('events-per-stream', values['events-per-stream']) ?? 1,
    blobMiB: positive('blob-mib', values['blob-mib']),
    pullOnly: values['pull-only'],
    server: values.server,
    baseline: values.baseline,
    scale: fraction('scale', values.scale) ?? (quick ? 0.1 : 1),
    rounds: positive('rounds', values.rounds) ?? (quick ? 10 : 30),
  };
}

export const USAGE = `usage: npm run bench -- [section ...] [--quick] [--max-events N] [--window-ms MS]
                        [--events-per-stream K] [--blob-mib N] [--pull-only]
                        [--server PATH] [--baseline PATH] [--scale F] [--rounds N] [--json]

Runs on a temporary data directory under the system temp dir (deleted afterwards).
Default sizes: ${FULL_SIZES.join(', ')} events (--quick: ${QUICK_SIZES.join(', ')}).
--max-events N   largest log to build (sizes below N, then N)
--window-ms MS   time bound of one timed append window (default 3000, --quick 500)
--events-per-stream K
                 append K events to a stream before opening the next (default 1: each
                 registration in its own user/<id> stream; 1000 stands in for a vault)
--blob-mib N     size of the blob in the blobs and sync sections (default 100, --quick 16)
--pull-only      sync: skip the blob part and run each pull pass 5 times, not 3 (median),
                 for comparing changes to the pull path
--server PATH    sync, first-sync: start this built server entry (e.g. another checkout's
                 build/bin/verstak-sync-server) instead of this build's, for A/B runs
--baseline PATH  first-sync: also run a new device's first sync against this built server
                 entry (e.g. the commit before first syncs) on an identically pushed vault
                 backup: run every other backup with this build's CLI instead (A/B)
--scale F        web: seed this fraction of 10k users, 20k devices, 1M ops, 200k other
                 events (default 1, --quick 0.1); the seeded directory is kept in .bench-data/
--rounds N       web: timed requests per route (default 30, --quick 10)
--json           print the results as JSON on stdout (progress stays on stderr)
`;
