import { Command } from 'commander';
import { openDatabase, verifyLog } from '../log/index.js';
import { DATA_OPTION, existingDatabaseFile } from './data-dir.js';
import { printOut } from './output.js';
import { stderrProgress } from './progress.js';

export async function verify(opts: { data?: string }): Promise<void> {
  const { file } = existingDatabaseFile(opts);
  // Opened directly rather than through the runtime, which would migrate and project.
  const db = openDatabase(file, { mustExist: true });
  try {
    const result = verifyLog(db, stderrProgress('verifying'));
    if (result.problems.length === 0 && result.integrity.length === 0) {
      printOut(
        `${result.events} events, chain intact, integrity ok (log format ${result.format})\n`,
      );
      return;
    }
    process.exitCode = 1;
    const first = result.problems[0];
    printOut(
      first
        ? `log damaged: first bad seq ${first.seq} (${result.problems.length} problem(s) shown)\n`
        : `${result.events} events, chain intact, but the database is damaged\n`,
    );
    for (const p of result.problems) printOut(`seq ${p.seq}: ${p.problem}\n`);
    for (const message of result.integrity) printOut(`integrity: ${message}\n`);
  } finally {
    db.close();
  }
}

export const verifyCommand = new Command('verify')
  .description("check the log's sequence, data digests and hash chain, and SQLite's integrity")
  .option(...DATA_OPTION)
  .action(verify);
