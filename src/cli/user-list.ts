import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { userList } from './user-list-action.js';

export const userListCommand = new Command('list')
  .description('list users (never their password hashes)')
  .option(...DATA_OPTION)
  .option('--json', 'one JSON object per line')
  .action(async (opts: Parameters<typeof userList>[0]) =>
    (await import('./user-list-action.js')).userList(opts),
  );
