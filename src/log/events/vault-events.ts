import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

export const ConflictSchema = z.object({
  op_id: z.string(),
  device_id: z.string(),
  op_type: z.string(),
  server_sequence: z.number().int(),
  entity_type: z.string(),
  entity_id: z.string(),
});

/** An op exactly as the pull feed serves it (CONTRACT.md §4.7), less its server_sequence. */
export const WireOpSchema = z.object({
  op_id: z.string(),
  device_id: z.string(),
  entity_type: z.string(),
  entity_id: z.string(),
  op_type: z.string(),
  payload_json: z.string(),
  created_at: z.string(),
});

/**
 * One pushed operation; its seq is the server_sequence clients page by. It records the
 * decision too: the conflicts reported for it. `op` is the last key and keeps the wire
 * names, so the feed serves it straight from the stored JSON text. The user and vault are
 * those of the stream `vault/<userId>/<vaultId>`.
 */
export const OperationPushed = defineEvent(
  'OperationPushed',
  z.object({
    client_sequence: z.number().int().nonnegative(),
    last_seen_server_seq: z.number().int().nonnegative(),
    conflicts: z.array(ConflictSchema),
    op: WireOpSchema,
  }),
);

/**
 * The answer to a push that carried an idempotency key, kept so that a retry gets the
 * same bytes back even after a restart or a replay.
 */
export const PushAnswered = defineEvent(
  'PushAnswered',
  z.object({
    userId: z.string(),
    vaultId: z.string(),
    idempotencyKey: z.string(),
    requestDigest: z.string(),
    response: z.string(),
  }),
);

export const VAULT_EVENTS = [OperationPushed, PushAnswered] as const;
