import type { FileSweep, SweepFile } from '../blobs/file-sweep.js';
import type { Retention } from '../config.js';
import type { EventMeta, Sqlite } from '../log/index.js';
import { isBlobKnown } from '../projections/blobs.js';
import { countExpiredEmailTokens } from '../projections/email-tokens.js';
import { countExpiredSessions } from '../projections/sessions.js';
import { countStalePushAnswers } from '../projections/vault-queries.js';
import type { CommandHandler } from './handle.js';
import { retentionDecider, type CleanupData, type RetentionState } from './retention.js';
import { SERVER_STREAM } from './settings.js';

const HOUR = 3_600_000;
/**
 * Expired e-mail tokens stay a day: the reset-mail budget counts the tokens of the last
 * hour, used or expired, and removing them sooner would hand out more mails.
 */
const EXPIRED_TOKEN_KEEP_MS = 24 * HOUR;
/**
 * A content file modified this recently may be one an upload has just placed or touched
 * and is about to record; placing and recording take milliseconds, an hour is ample.
 */
export const BLOB_FILE_GRACE_MS = HOUR;

export interface RemovedFiles {
  readonly count: number;
  readonly bytes: number;
}

export interface CleanupReport {
  readonly at: string;
  readonly dryRun: boolean;
  readonly sessions: number;
  readonly emailTokens: number;
  readonly pushAnswers: number;
  readonly tempUploads: RemovedFiles;
  readonly blobFiles: RemovedFiles;
  /** The CleanupRan event's sequence; absent for a dry run or when nothing was removed. */
  readonly seq?: number;
}

export type Cleanup = ReturnType<typeof createCleanup>;

type Cutoffs = Pick<
  CleanupData,
  'sessionsExpiredBefore' | 'emailTokensExpiredBefore' | 'pushAnswersBefore'
>;

const total = (files: readonly SweepFile[]): RemovedFiles => ({
  count: files.length,
  bytes: files.reduce((sum, f) => sum + f.size, 0),
});

const SYSTEM: EventMeta = { actor: 'system' };

/**
 * The one retention routine (CONTRACT.md §13), for the server's schedule, the storage page
 * and the CLI. Rows are removed by the CleanupRan event's projections, so replay removes
 * them too; files are not projections and are removed here, before the event records them.
 * Never ops, tombstones or content the log knows.
 */
export function createCleanup(deps: {
  db: Sqlite;
  handle: CommandHandler['handle'];
  sweep: FileSweep;
  retention: Retention;
}) {
  const { db, handle, sweep, retention } = deps;

  const cutoffsAt = (now: Date): Cutoffs => ({
    sessionsExpiredBefore: now.toISOString(),
    emailTokensExpiredBefore: new Date(now.getTime() - EXPIRED_TOKEN_KEEP_MS).toISOString(),
    pushAnswersBefore: new Date(now.getTime() - retention.idempotency_hours * HOUR).toISOString(),
  });

  const countRows = (tx: Sqlite, c: Cutoffs) => ({
    sessions: countExpiredSessions(tx, c.sessionsExpiredBefore),
    emailTokens: countExpiredEmailTokens(tx, c.emailTokensExpiredBefore),
    pushAnswers: countStalePushAnswers(tx, c.pushAnswersBefore),
  });

  const staleTempUploads = async (now: Date) => {
    const before = now.getTime() - retention.temp_upload_hours * HOUR;
    return (await sweep.listTempUploads()).filter((f) => f.modifiedAt <= before);
  };

  const unknownBlobFiles = async (now: Date) => {
    const before = now.getTime() - BLOB_FILE_GRACE_MS;
    return (await sweep.listBlobFiles()).filter(
      (f) => f.modifiedAt <= before && !isBlobKnown(db, f.name),
    );
  };

  const execute = async (now: Date, meta: EventMeta): Promise<CleanupReport> => {
    const cutoffs = cutoffsAt(now);
    const temp: SweepFile[] = [];
    for (const file of await staleTempUploads(now)) {
      await sweep.removeTempUpload(file.name);
      temp.push(file);
    }
    const blobs: SweepFile[] = [];
    const keepIfModifiedAfter = now.getTime() - BLOB_FILE_GRACE_MS;
    for (const file of await unknownBlobFiles(now)) {
      const removed = await sweep.removeBlobFile(file.name, keepIfModifiedAfter, () =>
        isBlobKnown(db, file.name),
      );
      if (removed !== undefined) blobs.push({ ...file, size: removed });
    }
    const tempUploads = total(temp);
    const blobFiles = total(blobs);
    let rows = { sessions: 0, emailTokens: 0, pushAnswers: 0 };
    const [event] = handle({
      stream: SERVER_STREAM,
      decider: retentionDecider,
      meta,
      // The server stream also holds settings; nothing of it is needed here.
      loadState: (): RetentionState => retentionDecider.initialState(),
      command: (tx) => {
        rows = countRows(tx, cutoffs);
        return {
          type: 'RecordCleanup' as const,
          data: {
            ...cutoffs,
            ...rows,
            tempUploads: tempUploads.count,
            tempUploadBytes: tempUploads.bytes,
            blobFiles: blobFiles.count,
            blobFileBytes: blobFiles.bytes,
          },
        };
      },
    });
    return {
      at: now.toISOString(),
      dryRun: false,
      ...rows,
      tempUploads,
      blobFiles,
      ...(event ? { seq: event.seq } : {}),
    };
  };

  let running: Promise<CleanupReport> | undefined;

  return {
    /** What a run at `now` would remove; changes nothing and appends nothing. */
    async plan(now: Date): Promise<CleanupReport> {
      return {
        at: now.toISOString(),
        dryRun: true,
        ...countRows(db, cutoffsAt(now)),
        tempUploads: total(await staleTempUploads(now)),
        blobFiles: total(await unknownBlobFiles(now)),
      };
    },

    /**
     * Removes what expired by `now` and records it. A run asked for while one is under way
     * (the schedule and the storage page) gets that run's report instead of racing it.
     */
    run(now: Date, meta: EventMeta = SYSTEM): Promise<CleanupReport> {
      running ??= execute(now, meta).finally(() => (running = undefined));
      return running;
    },
  };
}
