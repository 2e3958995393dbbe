import type { PushOpInput } from '../commands/vault.js';
import { AppError } from '../errors.js';
import type { Limits } from '../config.js';

export type { PushOpInput };

export interface PushInput {
  readonly idempotencyKey: string;
  readonly ops: readonly PushOpInput[];
}

const fail = (status: number, code: string, message: string) => new AppError(status, code, message);
const bytes = (s: string) => Buffer.byteLength(s);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const REQUIRED = [
  ['op_id', 128],
  ['entity_type', 64],
  ['entity_id', 4096],
  ['op_type', 64],
] as const;

function optionalString(obj: Record<string, unknown>, field: string, where: string): string {
  const v = obj[field];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw fail(400, 'invalid_json', `${where}${field} must be a string`);
  return v;
}

function sequence(op: Record<string, unknown>, field: string, where: string): number {
  const v = op[field];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw fail(400, 'invalid_json', `${where}${field} must be an integer`);
  }
  if (v < 0) throw fail(400, 'invalid_operation', `${where}${field} must be non-negative`);
  return v;
}

function blobOf(parsed: unknown, where: string): PushOpInput['blob'] {
  if (!isObject(parsed)) return undefined;
  if ('dataBase64' in parsed) {
    throw fail(400, 'inline_binary_forbidden', `${where}file content must be uploaded as a blob`);
  }
  if (!('blob' in parsed)) return undefined;
  const blob = parsed.blob;
  if (
    !isObject(blob) ||
    typeof blob.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(blob.sha256) ||
    typeof blob.size !== 'number' ||
    !Number.isSafeInteger(blob.size) ||
    blob.size < 0
  ) {
    throw fail(400, 'invalid_blob_reference', `${where}blob must have a sha256 and a size`);
  }
  return { sha256: blob.sha256, size: blob.size };
}

function validateOp(raw: unknown, index: number, limits: Limits): PushOpInput {
  const where = `ops[${index}].`;
  if (!isObject(raw)) throw fail(400, 'invalid_json', `ops[${index}] must be an object`);
  const fields: Record<string, string> = {};
  for (const [field, max] of REQUIRED) {
    const value = optionalString(raw, field, where);
    if (value.trim() === '') throw fail(400, 'invalid_operation', `${where}${field} is required`);
    if (bytes(value) > max) throw fail(400, 'field_too_long', `${where}${field} is too long`);
    fields[field] = value;
  }
  const payloadJson = optionalString(raw, 'payload_json', where);
  if (bytes(payloadJson) > limits.max_payload_json) {
    throw fail(413, 'payload_too_large', `${where}payload_json is too large`);
  }
  let payload: unknown;
  if (payloadJson !== '') {
    try {
      payload = JSON.parse(payloadJson);
    } catch {
      throw fail(400, 'invalid_payload', `${where}payload_json is not valid JSON`);
    }
  }
  const op: PushOpInput = {
    op_id: fields.op_id!,
    entity_type: fields.entity_type!,
    entity_id: fields.entity_id!,
    op_type: fields.op_type!,
    payload_json: payloadJson,
    created_at: optionalString(raw, 'created_at', where),
    client_sequence: sequence(raw, 'client_sequence', where),
    last_seen_server_seq: sequence(raw, 'last_seen_server_seq', where),
  };
  if (op.entity_type === 'file' && payloadJson !== '') {
    const blob = blobOf(payload, where);
    if (blob) return { ...op, blob };
  }
  return op;
}

/**
 * CONTRACT.md §4.6: the whole push is validated before anything is stored; the first bad
 * op rejects the batch with its code.
 */
export function validatePush(body: unknown, limits: Limits): PushInput {
  if (!isObject(body)) throw fail(400, 'invalid_json', 'request body must be a JSON object');
  const deviceId = optionalString(body, 'device_id', '');
  const idempotencyKey = optionalString(body, 'idempotency_key', '');
  if (bytes(deviceId) > 128) throw fail(400, 'field_too_long', 'device_id is too long');
  if (bytes(idempotencyKey) > 128) throw fail(400, 'field_too_long', 'idempotency_key is too long');
  const ops = body.ops ?? [];
  if (!Array.isArray(ops)) throw fail(400, 'invalid_json', 'ops must be an array');
  if (ops.length > limits.max_push_operations) {
    throw fail(
      413,
      'too_many_operations',
      `at most ${limits.max_push_operations} operations per push`,
    );
  }
  return { idempotencyKey, ops: ops.map((op, i) => validateOp(op, i, limits)) };
}
