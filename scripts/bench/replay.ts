import { stderrProgress } from '../../src/cli/progress.js';
import { databaseBytes, fillTo, openFixture, rssMiB, warmUp } from './fixture.js';
import { timed } from './stats.js';
import { say, type BenchOptions, type Section, type SectionResult } from './section.js';

// Filling is not what this section measures, so it uses larger transactions.
const FILL_BATCH = 1000;

async function run(options: BenchOptions): Promise<SectionResult> {
  await warmUp();
  const fixture = openFixture('replay', options.eventsPerStream);
  const rows: Record<string, number | string>[] = [];
  try {
    const { runtime, dir } = fixture;
    for (const size of options.sizes) {
      say(`replay: growing the log to ${size} events (batch ${FILL_BATCH})`);
      await fillTo(fixture, size, FILL_BATCH);
      // A replay normally starts after a restart, with the WAL folded into the database.
      runtime.db.pragma('wal_checkpoint(TRUNCATE)');
      const dbBytes = databaseBytes(dir);
      say(`replay: rebuilding every projection over ${size} events`);
      const { ms, cpuPercent, writtenMiB } = timed(() =>
        runtime.projector.rebuildAll(stderrProgress(`replaying ${size} events`)),
      );
      const users = runtime.db.prepare('SELECT count(*) FROM users').pluck().get() as number;
      if (users !== size) throw new Error(`replay built ${users} users from ${size} registrations`);
      rows.push({
        events: size,
        seconds: ms / 1000,
        rate: (size / ms) * 1000,
        users,
        cpu: cpuPercent,
        written: writtenMiB,
        db: dbBytes / 1024 / 1024,
        perEvent: Math.round(dbBytes / size),
        rss: rssMiB(),
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    fixture.dispose();
  }
  return {
    name: 'replay',
    title: 'Replay (projector.rebuildAll: drop every projection, rebuild from seq 0)',
    notes: [
      fixture.events.note,
      'each event becomes one users row (checked after every rebuild)',
      'the log was just written, so it is in the page cache (a warm replay)',
      'MiB written: bytes the process sent to storage during the rebuild, from /proc/self/io',
    ],
    columns: [
      { key: 'events', label: 'log events', format: 'count' },
      { key: 'seconds', label: 's', format: 'seconds' },
      { key: 'rate', label: 'events/s', format: 'rate' },
      { key: 'users', label: 'users rows', format: 'count' },
      { key: 'cpu', label: 'CPU %', format: 'count' },
      { key: 'written', label: 'MiB written', format: 'count' },
      { key: 'db', label: 'db MiB', format: 'decimal' },
      { key: 'perEvent', label: 'bytes/event', format: 'count' },
      { key: 'rss', label: 'RSS MiB', format: 'decimal' },
    ],
    rows,
  };
}

export const replaySection: Section = {
  name: 'replay',
  description: 'projection rebuild (replay) throughput over logs of each size',
  run,
};
