import { hash } from 'node:crypto';
import { DamagedEventError, type createFeedReader, type FeedPage } from '../log/index.js';
import type { FirstSync, FirstSyncs } from './first-sync.js';
import type { PlanRow } from './first-sync-plan.js';
import { payloadObject } from './op-paths.js';

type Feed = ReturnType<typeof createFeedReader>;

/**
 * The device_id of ops the server derives for a first sync. Device ids are UUIDs, so no
 * device ever has it, and the desktop applies these ops instead of skipping them as its own.
 */
export const SNAPSHOT_DEVICE_ID = 'server-snapshot';

/** Stable across pulls and servers: the same origin and path always give the same op_id. */
const derivedOpId = (originOpId: string, kind: string, path: string) =>
  `snapshot-${hash('sha256', `${originOpId}\n${kind}\n${path}`, 'hex').slice(0, 40)}`;

interface StoredOp {
  op_id: string;
  entity_type: string;
  entity_id: string;
  payload_json: string;
  created_at: string;
}

/**
 * The projection planned an op the log no longer holds as one (a damaged page changed the
 * row's type or lost it): as damaged as a digest mismatch, and never an empty op on the wire.
 */
function fromLog<T>(seq: number, value: T | undefined): T {
  if (value === undefined)
    throw new DamagedEventError(seq, 'the op a first sync plans is not in the log');
  return value;
}

/** A create of the row's path with the content (or workspace) of its source op. */
function derivedOp(feed: Feed, seq: number, derive: NonNullable<PlanRow['derive']>): string {
  const origin = fromLog(derive.source, feed.op(derive.source)) as unknown as StoredOp;
  const {
    fromPath: _from,
    toPath: _to,
    previousPath: _previous,
    ...payload
  } = payloadObject(origin.payload_json);
  const workspace = derive.kind === 'workspace';
  const renamed: Record<string, unknown> = { ...payload, path: derive.path };
  // The desktop names a workspace after its path.
  if (workspace && (payload.name === undefined || payload.name === payload.path))
    renamed.name = derive.path;
  return JSON.stringify({
    server_sequence: seq,
    op_id: derivedOpId(origin.op_id, derive.kind, derive.path),
    device_id: SNAPSHOT_DEVICE_ID,
    entity_type: workspace ? 'workspace' : derive.kind,
    entity_id: workspace ? origin.entity_id : derive.path,
    op_type: 'create',
    payload_json: JSON.stringify(renamed),
    created_at: origin.created_at,
  });
}

function joinRows(feed: Feed, rows: readonly PlanRow[]): string {
  return rows
    .map((row) =>
      row.derive ? derivedOp(feed, row.seq, row.derive) : fromLog(row.seq, feed.wire(row.seq)),
    )
    .join(',');
}

/**
 * A page of a device's first-sync view: its plan's rows after the cursor, then, once the
 * first sync is over, the log's ops after the plan's head. While it is not over, the page
 * that holds the plan's last row says has_more: false even when newer ops exist, so that
 * the desktop ends its initial reconciliation there and applies them as ordinary changes.
 */
export function firstSyncPage(
  deps: {
    feed: Feed;
    firstSyncs: FirstSyncs;
    stream: string;
    deviceId: string;
    skipSuperseded: boolean;
  },
  state: FirstSync,
  since: number,
  size: number,
): FeedPage {
  const { feed, firstSyncs, stream, deviceId } = deps;
  const rows = state.rowsKept ? firstSyncs.rows(deviceId, since, size + 1) : [];
  const planned = rows.slice(0, size);
  const ops = joinRows(feed, planned);
  const lastPlanned = planned.at(-1)?.seq;
  if (rows.length > size) return { ops, count: size, lastSeq: lastPlanned, hasMore: true };
  if (!state.done) {
    firstSyncs.finish(deviceId);
    return { ops, count: planned.length, lastSeq: lastPlanned, hasMore: false };
  }
  if (state.rowsKept && since >= state.lastRow) firstSyncs.dropRows(deviceId);
  const rest = feed.joined(stream, state.head, size - planned.length, deps.skipSuperseded);
  return {
    ops: ops && rest.ops ? `${ops},${rest.ops}` : ops || rest.ops,
    count: planned.length + rest.count,
    lastSeq: rest.lastSeq ?? lastPlanned,
    hasMore: rest.hasMore,
  };
}
