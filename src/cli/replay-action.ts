import { join } from 'node:path';
import { anchorFileOf } from '../log/anchor.js';
import { checkAnchor } from '../log/anchor-check.js';
import { anchorKeySourceOf, anchorKeyState } from '../log/anchor-key.js';
import { CATALOGUE, openDatabase, verifyLog } from '../log/index.js';
import type { TableDiff } from '../projections/compare.js';
import { replayProjections } from '../projections/rebuild.js';
import { claimScratch, removeScratch } from '../projections/scratch-files.js';
import { terminalSafeJson } from '../security/text-hygiene.js';
import { existingDatabaseFile, withRuntime } from './data-dir.js';
import { printJsonLine, printOut } from './output.js';
import { stderrProgress } from './progress.js';

/**
 * The rebuild's progress with its rate and the time left: a redrawn line on a terminal, a
 * line every 10% otherwise (so logs stay readable).
 */
export function replayProgress(label: string, now: () => number = () => performance.now()) {
  const tty = process.stderr.isTTY;
  const started = now();
  let lastDecile = -1;
  return (done: number, total: number) => {
    if (total <= 0) return;
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? Math.ceil((total - done) / rate) : undefined;
    const line =
      `${label}: ${done}/${total} events (${Math.floor((done / total) * 100)}%)` +
      (rate > 0 ? `, ${Math.round(rate)} events/s` : '') +
      (done < total && eta !== undefined ? `, about ${eta} s left` : '');
    if (tty) {
      process.stderr.write(`\r\x1b[K${line}${done >= total ? '\n' : ''}`);
      return;
    }
    const decile = Math.floor((Math.min(done, total) / total) * 10);
    if (decile === lastDecile) return;
    lastDecile = decile;
    process.stderr.write(`${line}\n`);
  };
}

// Digests of secrets live in projections too; a diff shows that they differ, not what they are.
const SECRET_COLUMN = /(^|_)(hash|token|secret|password)(_|$)/;

function describeDiff(diff: TableDiff): string {
  if (diff.shape !== undefined) return `${diff.table}: ${diff.shape}\n`;
  const lines = [
    `${diff.table}: ${diff.onlyRebuilt} row(s) the log produces are missing or different in the live table, ` +
      `${diff.onlyLive} live row(s) the log does not produce`,
  ];
  for (const { side, row } of diff.examples) {
    const shown = Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, SECRET_COLUMN.test(k) ? '<redacted>' : v]),
    );
    lines.push(`  ${side === 'rebuilt' ? '+ rebuilt' : '- live   '} ${terminalSafeJson(shown)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Projections rebuilt from a damaged or forged log would serve what the damage says, so the
 * log is verified first. Throws naming the first problem.
 */
function verifyBeforeReplay(opts: { data?: string }): void {
  const { dataDir, file } = existingDatabaseFile(opts);
  const db = openDatabase(file, { mustExist: true });
  try {
    const result = verifyLog(db, stderrProgress('verifying the log'), 1);
    const problem = result.problems[0];
    // A truncated or re-chained log verifies on its own: only its anchor tells.
    const anchorFailure = checkAnchor(
      db,
      anchorFileOf(dataDir),
      anchorKeyState(anchorKeySourceOf(dataDir, process.env)),
    ).findings.find((f) => f.level === 'failure');
    const damage = problem
      ? `seq ${problem.seq}: ${problem.problem}`
      : result.integrity[0]
        ? `integrity: ${result.integrity[0]}`
        : anchorFailure && `anchor: ${anchorFailure.message}`;
    if (damage) {
      throw new Error(
        `${file}: the log fails verify (${damage}) — nothing was rebuilt; run "verstak-sync-server verify" for every problem and restore the data directory from a backup, or rebuild from it anyway with --force`,
      );
    }
  } finally {
    db.close();
  }
}

export async function replay(opts: {
  data?: string;
  check?: boolean;
  json?: boolean;
  force?: boolean;
}): Promise<void> {
  const check = opts.check ?? false;
  // One replay at a time on a data directory: two swaps would stage and drop the same
  // replay_* tables, and a check beside a replay doubles its disk and memory for an answer
  // the replay is about to change. Claimed before the verify, which may take minutes, so a
  // refusal comes at once, and held until the end (scratch-files.ts, claimScratch).
  const scratchDir = join(existingDatabaseFile(opts).dataDir, 'tmp');
  const scratchFile = claimScratch(scratchDir);
  let report;
  try {
    if (!opts.force) verifyBeforeReplay(opts);
    report = await withRuntime(opts, (runtime) =>
      replayProjections(runtime, {
        scratchDir,
        scratchFile,
        check,
        catalogue: CATALOGUE,
        onProgress: replayProgress('replaying'),
        // A swap of a million users takes seconds past the last progress line.
        onSwapStep: (step) => process.stderr.write(`swap: ${step}\n`),
      }),
    );
  } finally {
    removeScratch(scratchFile);
  }
  const rate =
    report.rebuildSeconds > 0 ? Math.round(report.events / report.rebuildSeconds) : report.events;
  if (opts.json) {
    if (check && report.diffs.length > 0) process.exitCode = 1;
    printJsonLine({
      events: report.events,
      rebuild_seconds: Number(report.rebuildSeconds.toFixed(3)),
      events_per_second: rate,
      copy_seconds: Number(report.buildTimes.copySeconds.toFixed(3)),
      load_seconds: Number(report.buildTimes.loadSeconds.toFixed(3)),
      index_seconds: Number(report.buildTimes.indexSeconds.toFixed(3)),
      head: report.head,
      caught_up: report.caughtUp,
      checked: check,
      differing_tables: report.diffs.map((d) => d.table),
      ...(report.swap && {
        staged_tables: report.swap.staged,
        staging_seconds: Number(report.swap.stagingSeconds.toFixed(3)),
        cleanup_seconds: Number(report.swap.cleanupSeconds.toFixed(3)),
        swap_lock_seconds: Number(report.swap.swapLockSeconds.toFixed(3)),
        longest_lock_seconds: Number(report.swap.longestLockSeconds.toFixed(3)),
      }),
    });
    return;
  }
  process.stderr.write(
    `replayed ${report.events} events in ${report.rebuildSeconds.toFixed(2)} s (${rate} events/s)` +
      (report.caughtUp > 0 ? `, then ${report.caughtUp} appended meanwhile\n` : '\n'),
  );
  if (!check) {
    printOut(`projections rebuilt up to seq ${report.head}\n`);
    return;
  }
  if (report.diffs.length === 0) {
    printOut(`projections match the log up to seq ${report.head}\n`);
    return;
  }
  process.exitCode = 1;
  printOut(`projections differ from the log at seq ${report.head}:\n`);
  for (const diff of report.diffs) printOut(describeDiff(diff));
}
