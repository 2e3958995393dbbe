import { hash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import {
  createFeedReader,
  inSeqGap,
  seqGapReader,
  type EventMeta,
  type EventStore,
  type Sqlite,
} from '../log/index.js';
import {
  findPushAnswer,
  entityHeadSeq,
  findVault,
  findVaultOpSeq,
  storedOpDeviceId,
  vaultOpsAfter,
} from '../projections/vault-queries.js';
import { createFirstSyncs } from '../projections/first-sync.js';
import type { CommandHandler } from './handle.js';
import { firstSyncPage } from '../projections/first-sync-page.js';
import {
  conflictKey,
  planPush,
  vaultDecider,
  vaultStream,
  type OpContent,
  type PushedOp,
  type PushOpInput,
  type PushOperations,
  type PushState,
  type StoredOpOnEntity,
} from './vault.js';

export interface SyncScope {
  readonly userId: string;
  readonly vaultId: string;
  readonly deviceId: string;
}

export interface PushRequest {
  readonly idempotencyKey: string;
  readonly ops: readonly PushOpInput[];
}

/** Size of a blob referenced in the scope, or undefined when the scope has no such blob. */
export type BlobLookup = (
  db: Sqlite,
  userId: string,
  vaultId: string,
  sha256: string,
) => { size: number } | undefined;

export const DEFAULT_PULL_PAGE = 100;

/**
 * What an idempotency key is bound to: a retry may resend the same ops only. Taken only for
 * pushes that carry a key (the desktop sends none); the formula is the one stored answers
 * were recorded with.
 */
function requestDigestOf(ops: readonly PushedOp[]): string {
  const contentHash = (op: PushedOp) =>
    hash(
      'sha256',
      JSON.stringify([op.entity_type, op.entity_id, op.op_type, op.payload_json]),
      'base64url',
    );
  return hash(
    'sha256',
    JSON.stringify(
      ops.map((op) => [
        op.op_id,
        contentHash(op),
        op.created_at,
        op.client_sequence,
        op.last_seen_server_seq,
      ]),
    ),
    'base64url',
  );
}
const HOUR = 3_600_000;

type Feed = ReturnType<typeof createFeedReader>;

/**
 * CONTRACT.md §5.4 candidates for the batch: stored ops on its entities after each op's
 * last_seen. Entities whose last op is not after last_seen (the desktop pulls before it
 * pushes, so nearly all) cost one lookup; the others share one walk of the vault's ops
 * after the smallest such last_seen.
 */
function loadEntityOps(db: Sqlite, stream: string, vault: number, ops: readonly PushedOp[]) {
  const entityOps = new Map<string, StoredOpOnEntity[]>();
  const changed = new Map<string, PushedOp[]>();
  let from = Infinity;
  for (const op of ops) {
    if (op.last_seen_server_seq <= 0) continue;
    const key = conflictKey(op);
    if (entityOps.has(key)) continue;
    entityOps.set(key, []);
    if (entityHeadSeq(db, vault, op.entity_type, op.entity_id) <= op.last_seen_server_seq) continue;
    const entity = JSON.stringify([op.entity_type, op.entity_id]);
    changed.set(entity, [...(changed.get(entity) ?? []), op]);
    from = Math.min(from, op.last_seen_server_seq);
  }
  if (changed.size === 0) return entityOps;
  for (const stored of vaultOpsAfter(db, stream, from)) {
    const interested = changed.get(JSON.stringify([stored.entity_type, stored.entity_id]));
    if (!interested) continue;
    const withDevice = { ...stored, device_id: storedOpDeviceId(db, stored.seq) };
    for (const op of interested) {
      if (stored.seq > op.last_seen_server_seq) entityOps.get(conflictKey(op))!.push(withDevice);
    }
  }
  return entityOps;
}

function loadPushState(
  db: Sqlite,
  feed: Feed,
  command: PushOperations,
  notBefore: string,
): PushState {
  const { userId, vaultId, idempotencyKey, ops } = command.data;
  const vault = findVault(db, userId, vaultId);
  if (!vault) return { stored: new Map(), entityOps: new Map() };
  const answer = idempotencyKey
    ? findPushAnswer(db, vault.id, idempotencyKey, notBefore)
    : undefined;
  if (answer) {
    return {
      stored: new Map(),
      entityOps: new Map(),
      answer: { requestDigest: answer.request_digest, response: answer.response },
    };
  }
  // A stored op_id is a retry or a misuse: rare, so its content is read from the log.
  const stored = new Map<string, OpContent>();
  for (const op of ops) {
    const seq = findVaultOpSeq(db, vault.id, op.op_id);
    const content = seq === undefined ? undefined : feed.op(seq);
    if (content) stored.set(op.op_id, content as unknown as OpContent);
  }
  return { stored, entityOps: loadEntityOps(db, vaultStream(userId, vaultId), vault.id, ops) };
}

export type SyncService = ReturnType<typeof createSyncService>;

/**
 * Running totals since start, read by the metrics at scrape time: plain additions once per
 * batch or page, so that counting costs the push and pull paths next to nothing.
 */
export interface SyncCounts {
  /** Pushes answered from a new plan, and those answered with an idempotency key's stored answer. */
  committedBatches: number;
  replayedBatches: number;
  acceptedOps: number;
  /** Ops already stored (retries), acknowledged again; a replayed batch's ops count here too. */
  duplicateOps: number;
  /** Ops whose op_id was already used for a different operation (the answer's `rejected`). */
  rejectedOps: number;
  conflicts: number;
  pulledOps: number;
}

export function createSyncService(deps: {
  db: Sqlite;
  store: EventStore;
  enqueue: CommandHandler['enqueue'];
  clock: Clock;
  config: Config;
  findBlob: BlobLookup;
}) {
  const { db, store, enqueue, clock, config } = deps;
  const counts: SyncCounts = {
    committedBatches: 0,
    replayedBatches: 0,
    acceptedOps: 0,
    duplicateOps: 0,
    rejectedOps: 0,
    conflicts: 0,
    pulledOps: 0,
  };
  const feed = createFeedReader(db);
  const seqGaps = seqGapReader(db);
  const firstSyncs = createFirstSyncs(
    db,
    (seq) => (feed.op(seq)?.payload_json as string | undefined) ?? '',
  );

  const checkBlobs = (scope: SyncScope, ops: PushRequest['ops']) => {
    for (const op of ops) {
      if (!op.blob) continue;
      const found = deps.findBlob(db, scope.userId, scope.vaultId, op.blob.sha256);
      if (!found) {
        throw new AppError(
          400,
          'blob_not_owned',
          `blob ${op.blob.sha256} was not uploaded to this vault`,
        );
      }
      if (found.size !== op.blob.size) {
        throw new AppError(
          400,
          'invalid_blob_reference',
          `blob ${op.blob.sha256} has size ${found.size}`,
        );
      }
    }
  };

  return {
    counts: counts as Readonly<SyncCounts>,

    /** Returns the JSON answer of CONTRACT.md §4.6 (byte-identical on an idempotent retry). */
    async push(scope: SyncScope, request: PushRequest, meta: EventMeta): Promise<string> {
      checkBlobs(scope, request.ops);
      const command: PushOperations = {
        type: 'PushOperations',
        data: {
          ...scope,
          idempotencyKey: request.idempotencyKey,
          requestDigest: request.idempotencyKey ? requestDigestOf(request.ops) : '',
          ops: request.ops,
        },
      };
      const notBefore = new Date(
        clock.now().getTime() - config.retention.idempotency_hours * HOUR,
      ).toISOString();
      let state: PushState | undefined;
      await enqueue({
        stream: vaultStream(scope.userId, scope.vaultId),
        decider: vaultDecider,
        meta,
        command,
        loadState: (tx) => (state = loadPushState(tx, feed, command, notBefore)),
      });
      if (state!.answer) {
        counts.replayedBatches += 1;
        counts.duplicateOps += request.ops.length;
        return state!.answer.response;
      }
      const plan = planPush(command, state!);
      counts.committedBatches += 1;
      counts.acceptedOps += plan.tally.appended;
      counts.duplicateOps += plan.tally.duplicates;
      counts.rejectedOps += plan.tally.rejected;
      counts.conflicts += plan.tally.conflicts;
      return plan.response;
    },

    /** The seq of the vault's newest op, 0 for a vault without any (live sync's head). */
    head(scope: Pick<SyncScope, 'userId' | 'vaultId'>): number {
      return findVault(db, scope.userId, scope.vaultId)?.head_seq ?? 0;
    },

    /**
     * The JSON page of CONTRACT.md §4.7, assembled from pre-serialised ops. A device's
     * first pull from 0 plans its first sync; its pulls up to that plan's head read the
     * plan (README, "What a device receives").
     */
    pull(scope: SyncScope, sinceSequence: number, pageLimit: number): string {
      const size = Math.min(
        pageLimit === 0 ? DEFAULT_PULL_PAGE : pageLimit,
        config.limits.max_pull_page,
      );
      const stream = vaultStream(scope.userId, scope.vaultId);
      const vault = findVault(db, scope.userId, scope.vaultId);
      let first = firstSyncs.find(scope.deviceId);
      if (!first && sinceSequence === 0)
        first = firstSyncs.start(scope.deviceId, stream, vault?.head_seq ?? 0);
      const superseded = vault?.superseded_seq ?? 0;
      const page =
        first && sinceSequence <= first.head
          ? firstSyncPage(
              {
                feed,
                firstSyncs,
                stream,
                deviceId: scope.deviceId,
                skipSuperseded: first.head < superseded,
              },
              first,
              sinceSequence,
              size,
            )
          : feed.joined(stream, sinceSequence, size, sinceSequence < superseded);
      // pull() never yields, so no commit lands between reading the vault and its page:
      // server_sequence is never behind page_last_sequence.
      const head = vault?.head_seq ?? 0;
      // A vault's head is never past the log's: the log is read only for a cursor beyond it.
      // A cursor inside a restore's gap came from the lost server, however far the log
      // has moved on since: its ops after that cursor are not ours to send.
      if (
        (sinceSequence > head && sinceSequence > store.head()) ||
        inSeqGap(seqGaps(), sinceSequence)
      ) {
        throw new AppError(
          409,
          'cursor_ahead',
          'since_sequence is beyond the server log; the server was restored or lost data: resync',
        );
      }
      counts.pulledOps += page.count;
      const last = page.lastSeq ?? sinceSequence;
      return `{"server_sequence":${head},"page_last_sequence":${last},"has_more":${page.hasMore},"ops":[${page.ops}]}`;
    },
  };
}
