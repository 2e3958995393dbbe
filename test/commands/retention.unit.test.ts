import { describe, it } from 'vitest';
import { retentionDecider, type CleanupData } from '../../src/commands/retention.js';
import { deciderSpec } from './decider-spec.js';

const spec = deciderSpec(retentionDecider);

const NOTHING: CleanupData = {
  sessionsExpiredBefore: '2026-07-10T12:00:00.000Z',
  emailTokensExpiredBefore: '2026-07-09T12:00:00.000Z',
  pushAnswersBefore: '2026-07-09T12:00:00.000Z',
  sessions: 0,
  emailTokens: 0,
  pushAnswers: 0,
  tempUploads: 0,
  tempUploadBytes: 0,
  blobFiles: 0,
  blobFileBytes: 0,
};

describe('RecordCleanup', () => {
  it('emits nothing when nothing was removed', () => {
    spec.given([]).when({ type: 'RecordCleanup', data: NOTHING }).then([]);
  });

  it.each(['sessions', 'emailTokens', 'pushAnswers', 'tempUploads', 'blobFiles'] as const)(
    'records the cleanup when %s were removed',
    (kind) => {
      const data = { ...NOTHING, [kind]: 2 };
      spec
        .given([{ type: 'CleanupRan', data: { ...NOTHING, sessions: 5 } }])
        .when({ type: 'RecordCleanup', data })
        .then([{ type: 'CleanupRan', data }]);
    },
  );
});
