import { Command } from 'commander';
import { DATA_OPTION } from './data-dir.js';
import type { audit } from './audit-action.js';
import { parseIntOption } from './options.js';

// Stored times are ISO-8601 UTC with milliseconds, so normalised bounds compare as text.
const parseTime = (name: string) => (value: string) => {
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new Error(`${name} must be an ISO-8601 date or time`);
  return time.toISOString();
};

export const auditCommand = new Command('audit')
  .description('show the event log, oldest first, with secrets redacted')
  .option(...DATA_OPTION)
  .option('--type <types>', 'only these event types (comma-separated)')
  .option('--stream <stream>', 'only this stream, e.g. user/<id>')
  .option('--user <id>', 'only events about this user (its stream, or data naming it)')
  .option('--device <id>', 'only events about this device (its stream, or data naming it)')
  .option(
    '--since-seq <n>',
    'only events after this sequence number',
    parseIntOption('--since-seq'),
  )
  .option('--since <time>', 'only events at or after this ISO-8601 time', parseTime('--since'))
  .option('--until <time>', 'only events before this ISO-8601 time', parseTime('--until'))
  .option('--limit <n>', 'at most this many events (default: all)', parseIntOption('--limit'))
  .option('--json', 'one JSON object per line: seq, at, type, stream, data, meta')
  .option('--follow', 'keep printing new events until interrupted')
  .action(async (opts: Parameters<typeof audit>[0]) =>
    (await import('./audit-action.js')).audit(opts),
  );
