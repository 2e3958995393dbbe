import { openDatabase, verifyLog } from '../log/index.js';
import { anchorFileOf } from '../log/anchor.js';
import { checkAnchor, type AnchorCheck } from '../log/anchor-check.js';
import { anchorKeySourceOf, anchorKeyState } from '../log/anchor-key.js';
import { existingDatabaseFile } from './data-dir.js';
import { printJsonLine, printOut, text } from './output.js';
import { stderrProgress } from './progress.js';

// An intact anchor adds no line: the summary stays what scripts read; --json carries it.
const anchorLines = (check: AnchorCheck): string[] =>
  check.findings.map((f) => `${f.level === 'failure' ? 'anchor failure' : 'note'}: ${f.message}\n`);

export async function verify(opts: { data?: string; json?: boolean }): Promise<void> {
  const { dataDir, file } = existingDatabaseFile(opts);
  // Opened directly rather than through the runtime, which would migrate and project.
  const db = openDatabase(file, { mustExist: true });
  try {
    const result = verifyLog(db, stderrProgress('verifying'));
    const anchorFile = anchorFileOf(dataDir);
    // Never creates a key: a check must not leave a new one behind.
    const anchor = checkAnchor(
      db,
      anchorFile,
      anchorKeyState(anchorKeySourceOf(dataDir, process.env)),
    );
    const anchorFails = anchor.findings.some((f) => f.level === 'failure');
    const chainOk = result.problems.length === 0 && result.integrity.length === 0;
    if (!chainOk || anchorFails) process.exitCode = 1;
    if (opts.json) {
      printJsonLine({
        ok: chainOk && !anchorFails,
        format: result.format,
        events: result.events,
        problems: result.problems,
        integrity: result.integrity,
        anchor: {
          file: anchorFile,
          seq: anchor.anchor?.seq ?? null,
          state: anchor.anchor?.state ?? null,
          at: anchor.anchor?.at ?? null,
          key_id: anchor.anchor?.key_id ?? null,
          findings: anchor.findings,
        },
      });
      return;
    }
    const first = result.problems[0];
    if (chainOk) {
      printOut(
        `${result.events} events, chain intact, integrity ok (log format ${result.format})\n`,
      );
    } else {
      printOut(
        first
          ? `log damaged: first bad seq ${first.seq} (${result.problems.length} problem(s) shown)\n`
          : `${result.events} events, chain intact, but the database is damaged\n`,
      );
    }
    for (const p of result.problems) printOut(text`seq ${p.seq}: ${p.problem}\n`);
    for (const message of result.integrity) printOut(text`integrity: ${message}\n`);
    for (const line of anchorLines(anchor)) printOut(line);
  } finally {
    db.close();
  }
}
