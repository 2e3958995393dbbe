import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { verify } from './verify-action.js';

export const verifyCommand = new Command('verify')
  .description(
    "check the log's sequence, data digests and hash chain, SQLite's integrity, and the log's anchor (log-anchor.json)",
  )
  .option(...DATA_OPTION)
  .option('--json', 'print one JSON object (problems, integrity, anchor findings) on stdout')
  .action(async (opts: Parameters<typeof verify>[0]) =>
    (await import('./verify-action.js')).verify(opts),
  );
