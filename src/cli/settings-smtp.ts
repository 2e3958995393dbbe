import { Command, Option } from 'commander';
import { SMTP_SECURITY } from '../log/index.js';
import { DATA_OPTION } from './data-dir.js';
import type { settingsSmtp } from './settings-smtp-action.js';

export const settingsSmtpCommand = new Command('smtp')
  .description('set how the server sends mail (a running server picks the change up)')
  .option(...DATA_OPTION)
  .requiredOption('--host <host>', 'SMTP server host name or address')
  .requiredOption('--port <port>', 'SMTP port, e.g. 587 (starttls) or 465 (tls)')
  .addOption(
    new Option('--security <mode>', 'none, starttls or tls')
      .choices(SMTP_SECURITY)
      .makeOptionMandatory(),
  )
  .requiredOption('--from <address>', 'sender address of every mail')
  .requiredOption('--public-url <url>', 'base URL of links in mails, e.g. https://sync.example.com')
  .option('--user <user>', 'SMTP user (no authentication without it)')
  .option('--pass-file <file>', 'read the SMTP password from a file (default: keep the stored one)')
  .option('--json', 'print {"changed": true|false}')
  .action(async (opts: Parameters<typeof settingsSmtp>[0]) =>
    (await import('./settings-smtp-action.js')).settingsSmtp(opts),
  );
