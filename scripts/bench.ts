// Benchmarks on a temporary data directory with the real modules: `npm run bench -- [section ...]`.
// A section is a module under scripts/bench/ exporting a `Section`; add new ones (an HTTP load
// against a listening server, say) to SECTIONS.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/log/index.js';
import { fileSystemOf, fsyncLatencyMs } from './bench/fixture.js';
import { backupSection } from './bench/backup.js';
import { logSection } from './bench/log-append.js';
import { parseBenchArgs, USAGE } from './bench/options.js';
import { blobSection } from './bench/blob-section.js';
import { firstSyncSection } from './bench/first-sync.js';
import { replaySection } from './bench/replay.js';
import { verifySection } from './bench/verify.js';
import { liveSection } from './bench/live.js';
import { describeMachine, renderMachine, renderTable } from './bench/report.js';
import { say, type Section, type SectionResult } from './bench/section.js';
import { syncSection } from './bench/sync.js';
import { webSection } from './bench/web.js';

const SECTIONS: readonly Section[] = [
  logSection,
  replaySection,
  verifySection,
  syncSection,
  liveSection,
  firstSyncSection,
  blobSection,
  webSection,
  backupSection,
];

function sqliteVersion(): string {
  const db = openDatabase(':memory:');
  try {
    return db.prepare('SELECT sqlite_version()').pluck().get() as string;
  } finally {
    db.close();
  }
}

function probeFsync(): number {
  const dir = mkdtempSync(join(tmpdir(), 'verstak-bench-fsync-'));
  try {
    return fsyncLatencyMs(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const options = parseBenchArgs(process.argv.slice(2));
  if (options.help) {
    const list = SECTIONS.map((s) => `  ${s.name.padEnd(10)} ${s.description}`).join('\n');
    process.stdout.write(`${USAGE}\nsections (default: all):\n${list}\n`);
    return;
  }
  const unknown = options.sections.filter((name) => !SECTIONS.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown section ${unknown.join(', ')} (known: ${SECTIONS.map((s) => s.name).join(', ')})`,
    );
  }
  const chosen =
    options.sections.length === 0
      ? SECTIONS
      : SECTIONS.filter((s) => options.sections.includes(s.name));
  const machine = describeMachine(sqliteVersion(), fileSystemOf(tmpdir()), probeFsync());
  say(`sizes ${options.sizes.join(', ')}; sections ${chosen.map((s) => s.name).join(', ')}`);
  const started = performance.now();
  const results: SectionResult[] = [];
  for (const section of chosen) results.push(await section.run(options));
  // ru_maxrss is in KiB on Linux.
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;
  const seconds = (performance.now() - started) / 1000;
  const loadAverageAtEnd = loadavg()[0] ?? 0;
  if (options.json) {
    const sections = results.map(({ name, title, notes, rows }) => ({ name, title, notes, rows }));
    const report = { machine, options, sections, peakRssMiB, seconds, loadAverageAtEnd };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const tables = results.map(renderTable).join('\n\n');
  process.stdout.write(
    `${renderMachine(machine)}\n\n${tables}\n\n` +
      `peak RSS ${peakRssMiB.toFixed(0)} MiB; ${seconds.toFixed(0)} s in all; ` +
      `load average at end ${loadAverageAtEnd.toFixed(2)}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
