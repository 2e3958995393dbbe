import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { setBlocked } from './user-block-action.js';

const blockingCommand = (name: 'block' | 'unblock', blocked: boolean, description: string) =>
  new Command(name)
    .description(description)
    .option(...DATA_OPTION)
    .option('--id <id>', 'user id')
    .option('--username <name>', 'login name')
    .action(async (opts: Parameters<ReturnType<typeof setBlocked>>[0]) =>
      (await import('./user-block-action.js')).setBlocked(blocked)(opts),
    );

export const userBlockCommand = blockingCommand('block', true, 'block a user: no logins, no sync');
export const userUnblockCommand = blockingCommand('unblock', false, 'lift a block');
