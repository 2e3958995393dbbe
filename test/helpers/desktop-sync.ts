import { randomUUID } from 'node:crypto';
import {
  applyRemoteOp,
  cloneTree,
  diffTrees,
  emptyTree,
  movePath,
  type DesktopState,
  type LocalOp,
  type RemoteOp,
  type Tree,
} from './desktop-sim.js';

/**
 * The desktop's sync cycle (mirivlad/verstak internal/api/app_sync.go syncNow and
 * pullRemoteOps) over an injected transport, so that it runs against the server through
 * fastify inject or over a real socket alike.
 */

export interface PullPage {
  server_sequence: number;
  page_last_sequence: number;
  has_more: boolean;
  ops: RemoteOp[];
}

export interface PushAnswer {
  accepted: string[] | null;
  count: number;
  conflicts: unknown[] | null;
}

export interface SyncTransport {
  /** The desktop never sends page_limit; a test transport may, to exercise paging. */
  pull(sinceSequence: number): Promise<PullPage>;
  push(body: { device_id: string; ops: LocalOp[] }): Promise<PushAnswer>;
}

export interface Desktop extends DesktopState {
  readonly name: string;
  readonly transport: SyncTransport;
  /** last_pull_seq, persisted after every applied op. */
  cursor: number;
  bootstrapComplete: boolean;
  /** The tree as of the last scan or rebase: what local ops are computed against. */
  snapshot: Tree;
  readonly newId: () => string;
}

export const PUSH_BATCH = 100;
const CREATED_AT = '2026-11-26T10:00:00Z';

export function createDesktop(opts: {
  name: string;
  deviceId: string;
  transport: SyncTransport;
  newId?: () => string;
}): Desktop {
  return {
    name: opts.name,
    deviceId: opts.deviceId,
    transport: opts.transport,
    newId: opts.newId ?? randomUUID,
    tree: emptyTree(),
    snapshot: emptyTree(),
    pending: [],
    others: [],
    cursor: 0,
    bootstrapComplete: false,
  };
}

function localOp(
  d: Desktop,
  entityType: string,
  entityId: string,
  opType: string,
  payload: object,
): LocalOp {
  return {
    op_id: d.newId(),
    entity_type: entityType,
    entity_id: entityId,
    op_type: opType,
    payload_json: JSON.stringify(payload),
    created_at: CREATED_AT,
  };
}

/** The snapshot scan: local changes since the last scan or rebase become pending ops. */
export function scan(d: Desktop): LocalOp[] {
  const ops = diffTrees(d.snapshot, d.tree, (type, path, opType, payload) =>
    localOp(d, type, path, opType, payload),
  );
  d.pending.push(...ops);
  d.snapshot = cloneTree(d.tree);
  return ops;
}

/**
 * A move made in the app (MoveVaultPath, then recordFileSyncOp): the move op is recorded
 * explicitly with entity_id = fromPath and the snapshot rebased, so the scanner never sees
 * it. Earlier unscanned edits are scanned first so that they keep their order.
 */
export function recordMove(
  d: Desktop,
  entityType: 'file' | 'folder',
  from: string,
  to: string,
  path?: string,
): void {
  scan(d);
  movePath(d.tree, from, to);
  d.snapshot = cloneTree(d.tree);
  const payload =
    path === undefined ? { fromPath: from, toPath: to } : { path, fromPath: from, toPath: to };
  d.pending.push(localOp(d, entityType, from, 'move', payload));
}

/** An op of a service outside the file tree (workspaces, plugin records), recorded as is. */
export function recordOther(
  d: Desktop,
  entityType: string,
  entityId: string,
  opType: string,
  payload: object,
) {
  scan(d);
  d.pending.push(localOp(d, entityType, entityId, opType, payload));
}

export class PullProtocolError extends Error {
  override name = 'PullProtocolError';
}

/**
 * pullRemoteOps: pages from the persisted cursor until has_more is false, applying each op
 * and persisting the cursor after it. Returns the number of ops after the cursor (own ops
 * included, as the desktop counts them). Any error leaves the ops applied so far in place.
 */
export async function pullLoop(d: Desktop, initial: boolean): Promise<number> {
  let pulled = 0;
  for (;;) {
    const pageStart = d.cursor;
    const page = await d.transport.pull(pageStart);
    let lastInPage = pageStart;
    for (const op of page.ops) {
      if (op.server_sequence <= d.cursor) continue;
      // Kept as the desktop has it, though the skip above already catches what it would.
      if (op.server_sequence <= lastInPage) {
        throw new PullProtocolError(
          `pull response is not strictly ordered at sequence ${op.server_sequence}`,
        );
      }
      lastInPage = op.server_sequence;
      applyRemoteOp(d, op, initial);
      d.cursor = op.server_sequence;
      d.snapshot = cloneTree(d.tree);
      pulled += 1;
    }
    if (page.page_last_sequence !== lastInPage) {
      throw new PullProtocolError(
        `pull page cursor mismatch: got ${page.page_last_sequence}, applied ${lastInPage}`,
      );
    }
    if (!page.has_more) return pulled;
    if (page.page_last_sequence <= pageStart) {
      throw new PullProtocolError('pull page declared more operations without advancing cursor');
    }
  }
}

/** The first half of syncNow: scan, pull (the initial reconciliation until bootstrapped). */
export async function scanAndPull(d: Desktop): Promise<number> {
  scan(d);
  const pulled = await pullLoop(d, !d.bootstrapComplete);
  // A new, empty vault has no bootstrap ops to record.
  d.bootstrapComplete = true;
  return pulled;
}

/** Pushes every pending op in batches; only the op_ids listed in `accepted` stop being pending. */
export async function pushPending(d: Desktop): Promise<{ pushed: number; conflicts: unknown[] }> {
  const unpushed = d.pending.map((op) => ({ ...op, last_seen_server_seq: d.cursor }));
  let pushed = 0;
  const conflicts: unknown[] = [];
  for (let i = 0; i < unpushed.length; i += PUSH_BATCH) {
    const answer = await d.transport.push({
      device_id: d.deviceId,
      ops: unpushed.slice(i, i + PUSH_BATCH),
    });
    const accepted = new Set(answer.accepted ?? []);
    d.pending = d.pending.filter((op) => !accepted.has(op.op_id));
    pushed += accepted.size;
    conflicts.push(...(answer.conflicts ?? []));
  }
  return { pushed, conflicts };
}

export interface SyncResult {
  pushed: number;
  pulled: number;
  conflicts: unknown[];
}

/** syncNow: scan, pull, push, pull again from the same cursor (its own ops come back). */
export async function syncNow(d: Desktop): Promise<SyncResult> {
  const pulledBefore = await scanAndPull(d);
  const { pushed, conflicts } = await pushPending(d);
  const pulledAfter = await pullLoop(d, false);
  return { pushed, pulled: pulledBefore + pulledAfter, conflicts };
}
