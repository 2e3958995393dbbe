import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { settingsShow } from './settings-show-action.js';

export const settingsShowCommand = new Command('show')
  .description('show the mail settings in force (the SMTP password masked)')
  .option(...DATA_OPTION)
  .option('--json', 'one JSON object')
  .action(async (opts: Parameters<typeof settingsShow>[0]) =>
    (await import('./settings-show-action.js')).settingsShow(opts),
  );
