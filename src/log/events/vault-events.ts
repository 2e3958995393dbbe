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

/**
 * One pushed operation; its seq is the server_sequence clients page by. It records the
 * decision too: the conflicts reported for it.
 */
export const OperationPushed = defineEvent(
  'OperationPushed',
  z.object({
    userId: z.string(),
    vaultId: z.string(),
    opId: z.string(),
    deviceId: z.string(),
    entityType: z.string(),
    entityId: z.string(),
    opType: z.string(),
    payloadJson: z.string(),
    createdAt: z.string(),
    clientSequence: z.number().int().nonnegative(),
    lastSeenServerSeq: z.number().int().nonnegative(),
    conflicts: z.array(ConflictSchema),
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
