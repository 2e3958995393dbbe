import { Command, Option } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { settingsTestMail } from './settings-test-mail-action.js';

export const settingsTestMailCommand = new Command('test-mail')
  .description('queue a test mail; the running server delivers it with the stored settings')
  .option(...DATA_OPTION)
  .option('--to <address>', 'recipient (default: the sender address)')
  .addOption(
    new Option('--locale <locale>', 'language of the mail').choices(['en', 'ru']).default('en'),
  )
  .option('--json', 'print {"mail_id": ..., "to": ...}')
  .action(async (opts: Parameters<typeof settingsTestMail>[0]) =>
    (await import('./settings-test-mail-action.js')).settingsTestMail(opts),
  );
