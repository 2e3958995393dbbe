import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

const Count = z.number().int().nonnegative();

/**
 * A retention cleanup removed what had expired. The cutoffs are recorded, not derived from
 * `at`, so the projections delete exactly the rows the live run deleted, on replay too and
 * whatever the retention settings are by then. Files are not projections: their counts are
 * what the run removed before this event was appended.
 */
export const CleanupRan = defineEvent(
  'CleanupRan',
  z.object({
    /** Sessions whose `expires_at` is at or before this. */
    sessionsExpiredBefore: z.string(),
    /** E-mail tokens whose `expires_at` is at or before this. */
    emailTokensExpiredBefore: z.string(),
    /** Push idempotency answers given before this. */
    pushAnswersBefore: z.string(),
    sessions: Count,
    emailTokens: Count,
    pushAnswers: Count,
    tempUploads: Count,
    tempUploadBytes: Count,
    blobFiles: Count,
    blobFileBytes: Count,
  }),
);

export const RETENTION_EVENTS = [CleanupRan] as const;
