import { Command } from 'commander';
import { settingsShowCommand } from './settings-show.js';
import { settingsSmtpCommand } from './settings-smtp.js';
import { settingsTestMailCommand } from './settings-test-mail.js';

export const settingsCommand = new Command('settings')
  .description('mail (SMTP) settings and the public URL of links')
  .addCommand(settingsSmtpCommand)
  .addCommand(settingsShowCommand)
  .addCommand(settingsTestMailCommand);
