import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { backup } from './backup-action.js';

export const backupCommand = new Command('backup')
  .description(
    'write a consistent backup (database, config.yml, secret key, blobs) to a .tar.gz while the server runs',
  )
  .option(...DATA_OPTION)
  .requiredOption('--out <file>', 'the archive to write (must not exist yet)')
  .option(
    '--allow-missing-blobs',
    'back up even when blob files the database lists are gone (they are listed in the manifest)',
  )
  .option('--json', 'print a JSON summary')
  .action(async (opts: Parameters<typeof backup>[0]) =>
    (await import('./backup-action.js')).backup(opts),
  );
