import type { EventOfType } from '../log/index.js';
import type { Decider } from './decider.js';

export type RetentionEvent = EventOfType<'CleanupRan'>;

export type CleanupData = RetentionEvent['data'];

/** Records a cleanup whose files are already removed and whose rows the event removes. */
export type RecordCleanup = { type: 'RecordCleanup'; data: CleanupData };
export type RetentionCommand = RecordCleanup;

/**
 * Nothing a cleanup decides depends on earlier cleanups: each one's cutoffs and counts are
 * read from the projections in the same transaction.
 */
export type RetentionState = { status: 'ready' };

const REMOVED = [
  'sessions',
  'emailTokens',
  'pushAnswers',
  'tempUploads',
  'blobFiles',
] as const satisfies readonly (keyof CleanupData)[];

/** A cleanup that removed nothing leaves no event, so a frequent schedule does not pad the log. */
function recordCleanup(command: RecordCleanup): RetentionEvent[] {
  if (REMOVED.every((k) => command.data[k] === 0)) return [];
  return [{ type: 'CleanupRan', data: command.data }];
}

export const retentionDecider: Decider<RetentionState, RetentionCommand, RetentionEvent> = {
  initialState: () => ({ status: 'ready' }),
  evolve: (state) => state,
  decide(command) {
    switch (command.type) {
      case 'RecordCleanup':
        return recordCleanup(command);
      default: {
        const unreachable: never = command.type;
        return unreachable;
      }
    }
  },
};
