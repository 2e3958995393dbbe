import { z } from 'zod';
import { ConflictSchema, WireOpSchema } from '../../log/events/vault-events.js';
import { WireTime } from './answers.js';

/**
 * The desktop API's bodies and answers (CONTRACT.md §4), as the OpenAPI document shows
 * them. Request fields default to empty so that each route answers its own "x required"
 * in the contract's order; answers are documented as the handlers build them.
 */
const str = z.string().default('');

export const PairBody = z.object({
  login: str.describe('Username, or e-mail (case-insensitive)'),
  password: str,
  device_name: str.describe('Stored as "unknown" when empty'),
  client_version: str,
  vault_id: str.describe('The vault this device syncs; required, not starting with "legacy:"'),
});
export const PairAnswer = z.object({
  user_id: z.string(),
  device_id: z.string(),
  device_token: z.string(),
  server_time: WireTime,
  initial_sync_cursor: z.literal(0),
});

export const RegisterDeviceBody = z.object({
  name: str,
  username: str,
  password: str,
  vault_id: str,
});
export const RegisterDeviceAnswer = z.object({ device_id: z.string(), device_token: z.string() });

export const AuthTestBody = z.object({ username: str, password: str });
export const RevokeDeviceBody = z.object({ device_id: str, password: str });

export const MeAnswer = z.object({
  device_id: z.string(),
  user_id: z.string(),
  username: z.string(),
  device_name: z.string(),
  client_version: z.string(),
  last_seen: WireTime,
  revoked_at: WireTime.describe('Empty while the device is active'),
  created_at: WireTime,
});

const PushOp = z.object({
  op_id: z.string().max(128),
  entity_type: z.string().max(64),
  entity_id: z.string().max(4096),
  op_type: z.string().max(64),
  payload_json: z
    .string()
    .optional()
    .describe(
      'JSON text (≤ max_payload_json); a file op may reference a blob: {"blob":{"sha256","size"}}',
    ),
  created_at: z.string().optional().describe('Stored verbatim'),
  client_sequence: z.number().int().min(0).optional(),
  last_seen_server_seq: z.number().int().min(0).optional(),
});

/** Validated by validatePush (per-field codes, CONTRACT.md §4.6); this documents it. */
export const PushBody = z.object({
  device_id: z.string().max(128).optional().describe('Validated, then ignored'),
  idempotency_key: z.string().max(128).optional(),
  ops: z.array(PushOp).optional().describe('At most max_push_operations (100)'),
});

export const PushAnswer = z.object({
  accepted: z.array(z.string()).nullable(),
  count: z.number().int(),
  conflicts: z.array(ConflictSchema).nullable(),
  rejected: z
    .array(z.object({ op_id: z.string(), reason: z.string() }))
    .nullable()
    .optional()
    .describe('Ops whose op_id is already used for a different operation'),
});

export const PullBody = z.object({
  since_sequence: z.number().int().default(0),
  page_limit: z.number().int().default(0).describe('0: the server maximum (max_pull_page)'),
  wait_ms: z
    .number()
    .int()
    .optional()
    .describe('0–30,000: an empty page waits this long for the vault to move (long-poll)'),
});
// The feed serves the stored op (the event's own schema) behind its sequence.
const PulledOp = z.object({ server_sequence: z.number().int(), ...WireOpSchema.shape });
export const PullAnswer = z.object({
  server_sequence: z.number().int(),
  page_last_sequence: z.number().int(),
  has_more: z.boolean(),
  ops: z.array(PulledOp),
});

export const BlobAnswer = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int(),
});
// Documented, not enforced by the schema: the route refuses a bad name with its own code.
export const BlobParams = z.object({
  sha256: z.string().meta({ pattern: '^[0-9a-f]{64}$', description: '64 lowercase hex digits' }),
});
/** Read by the upload handler as a stream; the schema documents the form. */
export const BlobUploadBody = z.object({
  file: z.string().meta({ format: 'binary', description: 'The blob; its filename is the hash' }),
});
