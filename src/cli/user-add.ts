import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { userAdd } from './user-add-action.js';

export const userAddCommand = new Command('add')
  .description('register a user (the password is read from standard input or a file)')
  .option(...DATA_OPTION)
  .requiredOption('--username <name>', 'login name')
  .requiredOption('--email <address>', 'e-mail address')
  .option('--password-stdin', 'read the password from standard input')
  .option('--password-file <file>', 'read the password from a file')
  .option('--confirmed', 'mark the e-mail address as already confirmed')
  .option('--json', 'print {"user_id": ...} instead of a sentence')
  .action(async (opts: Parameters<typeof userAdd>[0]) =>
    (await import('./user-add-action.js')).userAdd(opts),
  );
