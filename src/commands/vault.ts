import { AppError } from '../errors.js';
import type { EventOfType } from '../log/index.js';
import type { Decider } from './decider.js';

export type VaultEvent = EventOfType<'OperationPushed' | 'PushAnswered'>;
type Conflict = EventOfType<'OperationPushed'>['data']['conflicts'][number];

/** A validated op in the client's wire names, which OperationPushed keeps. */
export interface PushedOp {
  readonly op_id: string;
  readonly entity_type: string;
  readonly entity_id: string;
  readonly op_type: string;
  readonly payload_json: string;
  readonly created_at: string;
  readonly client_sequence: number;
  readonly last_seen_server_seq: number;
}

/** An op as validated at the edge. */
export type PushOpInput = PushedOp & {
  /** A `file` op's blob reference, checked against the vault's blobs (CONTRACT.md §5.6). */
  readonly blob?: { readonly sha256: string; readonly size: number };
};

/** What makes a retry "the same op": it may change only its sequences and created_at. */
export type OpContent = Pick<PushedOp, 'entity_type' | 'entity_id' | 'op_type' | 'payload_json'>;

export const sameContent = (a: OpContent, b: OpContent) =>
  a.entity_type === b.entity_type &&
  a.entity_id === b.entity_id &&
  a.op_type === b.op_type &&
  a.payload_json === b.payload_json;

export type PushOperations = {
  type: 'PushOperations';
  data: {
    userId: string;
    vaultId: string;
    deviceId: string;
    idempotencyKey: string;
    requestDigest: string;
    ops: readonly PushedOp[];
  };
};

export interface StoredOpOnEntity {
  readonly op_id: string;
  readonly device_id: string;
  readonly op_type: string;
  readonly seq: number;
}

/**
 * What a push needs to know about its vault, loaded from projections for this batch only
 * (a vault's stream grows without bound, so it is never folded).
 */
export interface PushState {
  /** The content of the batch's op_ids already stored in this vault. */
  readonly stored: ReadonlyMap<string, OpContent>;
  /** Stored ops per entity after an op's last_seen_server_seq, keyed by conflictKey(). */
  readonly entityOps: ReadonlyMap<string, readonly StoredOpOnEntity[]>;
  /** A stored answer for the push's idempotency key, within its retention. */
  readonly answer?: { readonly requestDigest: string; readonly response: string };
}

export { vaultStream } from '../log/index.js';

export const conflictKey = (
  op: Pick<PushedOp, 'entity_type' | 'entity_id' | 'last_seen_server_seq'>,
) => JSON.stringify([op.entity_type, op.entity_id, op.last_seen_server_seq]);

interface Plan {
  readonly events: VaultEvent[];
  readonly response: string;
  /** For the metrics: new ops appended, retried ones acknowledged again, refused, conflicts. */
  readonly tally: PushTally;
}

export interface PushTally {
  readonly appended: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly conflicts: number;
}

// CONTRACT.md §5.4: other devices' non-delete ops on the same entity after last_seen.
function conflictsOf(op: PushedOp, deviceId: string, state: PushState): Conflict[] {
  if (op.last_seen_server_seq <= 0) return [];
  return (state.entityOps.get(conflictKey(op)) ?? [])
    .filter((o) => o.device_id !== deviceId && o.op_type !== 'delete')
    .map((o) => ({
      op_id: o.op_id,
      device_id: o.device_id,
      op_type: o.op_type,
      server_sequence: o.seq,
      entity_type: op.entity_type,
      entity_id: op.entity_id,
    }));
}

// decide() and the service both need the plan of one (command, state): planned once.
const plans = new WeakMap<PushState, { command: PushOperations; plan: Plan }>();

/** The events of a push and the exact answer the client gets (stored for idempotent retries). */
export function planPush(command: PushOperations, state: PushState): Plan {
  const cached = plans.get(state);
  if (cached?.command === command) return cached.plan;
  const plan = planPushNow(command, state);
  plans.set(state, { command, plan });
  return plan;
}

function planPushNow(command: PushOperations, state: PushState): Plan {
  const { userId, vaultId, deviceId, idempotencyKey, requestDigest } = command.data;
  const events: VaultEvent[] = [];
  const accepted: string[] = [];
  const conflicts: Conflict[] = [];
  const rejected: { op_id: string; reason: string }[] = [];
  const known = new Map<string, OpContent>(state.stored);
  const acknowledged = new Set<string>();
  for (const op of command.data.ops) {
    const prior = known.get(op.op_id);
    if (prior !== undefined && !sameContent(prior, op)) {
      rejected.push({ op_id: op.op_id, reason: 'op_id already used for a different operation' });
      continue;
    }
    const opConflicts = conflictsOf(op, deviceId, state);
    conflicts.push(...opConflicts);
    if (prior === undefined) {
      known.set(op.op_id, op);
      events.push({
        type: 'OperationPushed',
        data: {
          client_sequence: op.client_sequence,
          last_seen_server_seq: op.last_seen_server_seq,
          conflicts: opConflicts,
          op: {
            op_id: op.op_id,
            device_id: deviceId,
            entity_type: op.entity_type,
            entity_id: op.entity_id,
            op_type: op.op_type,
            payload_json: op.payload_json,
            created_at: op.created_at,
          },
        },
      });
    }
    // A retried op is acknowledged (CONTRACT.md §17.1) so the desktop stops re-sending it.
    if (!acknowledged.has(op.op_id)) {
      acknowledged.add(op.op_id);
      accepted.push(op.op_id);
    }
  }
  const response = JSON.stringify({ accepted, count: accepted.length, conflicts, rejected });
  const appended = events.length;
  const tally = {
    appended,
    duplicates: accepted.length - appended,
    rejected: rejected.length,
    conflicts: conflicts.length,
  };
  if (idempotencyKey) {
    events.push({
      type: 'PushAnswered',
      data: { userId, vaultId, idempotencyKey, requestDigest, response },
    });
  }
  return { events, response, tally };
}

export const vaultDecider: Decider<PushState, PushOperations, VaultEvent> = {
  initialState: () => ({ stored: new Map(), entityOps: new Map() }),
  evolve: (state) => state,
  decide(command, state) {
    if (state.answer) {
      if (state.answer.requestDigest !== command.data.requestDigest) {
        throw new AppError(
          422,
          'idempotency_key_reused',
          'idempotency_key was already used for a different request',
        );
      }
      return [];
    }
    return planPush(command, state).events;
  },
};
