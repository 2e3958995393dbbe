import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { deleteUser } from './user-delete-action.js';

export const userDeleteCommand = new Command('delete')
  .description('delete a user and erase their content from the log (data_hash and chain kept)')
  .argument('<user>', 'username or user id')
  .option(...DATA_OPTION)
  .option('--yes', 'do not ask for confirmation')
  .action(async (target: string, opts: Parameters<typeof deleteUser>[1]) =>
    (await import('./user-delete-action.js')).deleteUser(target, opts),
  );
