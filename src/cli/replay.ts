import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { replay } from './replay-action.js';

export const replayCommand = new Command('replay')
  .description('rebuild every projection from the log (aside, then swapped in atomically)')
  .option(...DATA_OPTION)
  .option(
    '--check',
    'only compare the rebuilt projections with the live ones; exit 1 if they differ',
  )
  .option('--json', 'print a JSON summary (events, rate, head) on stdout instead of text')
  .option('--force', 'rebuild even from a log that fails verify (damaged or edited)')
  .action(async (opts: Parameters<typeof replay>[0]) =>
    (await import('./replay-action.js')).replay(opts),
  );
