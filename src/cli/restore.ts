import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { restore } from './restore-action.js';

export const restoreCommand = new Command('restore')
  .description(
    'check a backup archive, restore it into a data directory and start a new log epoch (server stopped)',
  )
  .requiredOption('--from <file>', 'the archive written by `backup`')
  .option(...DATA_OPTION)
  .option(
    '--force',
    'restore over a non-empty data directory, keeping it aside as <dir>.before-restore-<time>',
  )
  .option('--json', 'print a JSON summary')
  .action(async (opts: Parameters<typeof restore>[0]) =>
    (await import('./restore-action.js')).restore(opts),
  );
