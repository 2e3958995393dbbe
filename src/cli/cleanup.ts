import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { cleanup } from './cleanup-action.js';

export const cleanupCommand = new Command('cleanup')
  .description(
    'remove expired sessions and e-mail tokens, old idempotency answers, stale temp uploads ' +
      'and blob files the log does not know (never ops or referenced blobs)',
  )
  .option(...DATA_OPTION)
  .option('--dry-run', 'only count what would be removed; change nothing')
  .option('--json', 'the report as one JSON object')
  .action(async (opts: Parameters<typeof cleanup>[0]) =>
    (await import('./cleanup-action.js')).cleanup(opts),
  );
