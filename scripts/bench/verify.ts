import { spawnSync } from 'node:child_process';
import { databaseBytes, openFixture, warmUp } from './fixture.js';
import { fillWithPushedOps, pushedOps } from './replay.js';
import { say, type BenchOptions, type Section, type SectionResult } from './section.js';

const OWN_BINARY = new URL('../../bin/verstak-sync-server', import.meta.url).pathname;
/** Issue 12: `verify` of a log of 1,000,000 events within this many seconds. */
const GOAL_SECONDS_PER_MILLION = 15;

/** The operator's command as a process of its own, timed from spawn to exit. */
function verifyOnce(dataDir: string) {
  const t0 = performance.now();
  const result = spawnSync(OWN_BINARY, ['verify', '--data', dataDir], { encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (result.status !== 0) {
    throw new Error(`verify exited ${result.status}: ${result.stdout}${result.stderr}`);
  }
  return { ms, said: result.stdout.trim().split('\n').at(-1) ?? '' };
}

async function run(options: BenchOptions): Promise<SectionResult> {
  await warmUp();
  const rows: Record<string, number | string>[] = [];
  const fixture = openFixture('verify', options.eventsPerStream);
  try {
    const { runtime, dir } = fixture;
    const nextPush = pushedOps();
    for (const size of options.sizes) {
      say(`verify: growing the log to ${size} pushed ops`);
      await fillWithPushedOps(runtime, nextPush, size);
      // As an operator runs it: on a stopped server, the WAL folded in.
      runtime.db.pragma('wal_checkpoint(TRUNCATE)');
      say(`verify: verifying ${size} events (twice: the second with the file in the page cache)`);
      const first = verifyOnce(dir);
      const second = verifyOnce(dir);
      rows.push({
        events: size,
        cold: first.ms / 1000,
        warm: second.ms / 1000,
        rate: (size / second.ms) * 1000,
        perMillion: (second.ms / 1000 / size) * 1_000_000,
        db: databaseBytes(dir) / 1024 / 1024,
        said: second.said,
      });
    }
  } finally {
    fixture.dispose();
  }
  return {
    name: 'verify',
    title: '`verify --data D` on a log of pushed ops (the built CLI as its own process)',
    notes: [
      'log: OperationPushed events as the replay section writes them (pushes of 100 ops by 3 devices, ~330 B of content inline)',
      'first run: right after the log was written (mostly in the page cache already); second: again, the figure events/s is from',
      `goal (issue 12): at most ${GOAL_SECONDS_PER_MILLION} s per 1,000,000 events on this machine`,
      'includes the process start, SQLite integrity_check and every digest and chain link',
    ],
    columns: [
      { key: 'events', label: 'log events', format: 'count' },
      { key: 'cold', label: 'first s', format: 'seconds' },
      { key: 'warm', label: 'second s', format: 'seconds' },
      { key: 'rate', label: 'events/s', format: 'rate' },
      { key: 'perMillion', label: 's per 1M', format: 'seconds' },
      { key: 'db', label: 'db MiB', format: 'decimal' },
      { key: 'said', label: 'verify said', format: 'text' },
    ],
    rows,
  };
}

export const verifySection: Section = {
  name: 'verify',
  description: '`verify` over logs of pushed ops, as the operator runs it',
  run,
};
