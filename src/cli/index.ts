import { Command } from 'commander';
import { readBuildInfo } from '../version.js';
import { auditCommand } from './audit.js';
import { backupCommand } from './backup.js';
import { printErr } from './output.js';
import { cleanupCommand } from './cleanup.js';
import { replayCommand } from './replay.js';
import { restoreCommand } from './restore.js';
import { serveCommand } from './serve.js';
import { settingsCommand } from './settings.js';
import { userCommand } from './user.js';
import { verifyCommand } from './verify.js';

// Each command here is its name, options and help; what it does is a module of its own that
// its action imports when it runs, so that a serving process never loads the other commands.
export function createProgram(): Command {
  const program = new Command('verstak-sync-server')
    .description('Verstak Sync Server: self-hosted sync for the Verstak desktop app')
    .version(readBuildInfo().version);
  program.addCommand(serveCommand, { isDefault: true });
  program.addCommand(userCommand);
  program.addCommand(auditCommand);
  program.addCommand(verifyCommand);
  program.addCommand(replayCommand);
  program.addCommand(settingsCommand);
  program.addCommand(cleanupCommand);
  program.addCommand(backupCommand);
  program.addCommand(restoreCommand);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await createProgram().parseAsync([...argv]);
  } catch (err) {
    // Messages may quote what was stored or typed (`no user named …`); their own line
    // breaks stay, anything else that would act on the terminal is escaped.
    printErr(`error: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
