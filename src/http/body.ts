import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import type { EventMeta } from '../log/index.js';

/**
 * Shape errors in a JSON body (a string where a number belongs, a non-object) are
 * `invalid_json` on the wire (CONTRACT.md §2); missing fields default to empty values so
 * that each route can answer its own "x required" in the contract's order.
 */
export function parseJsonBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body ?? null);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new AppError(400, 'invalid_json', `${where}${issue?.message ?? 'invalid body'}`);
}

/** RFC 3339 UTC with second precision, as the desktop expects. */
export const wireTime = (iso: string | null | undefined): string =>
  iso ? iso.replace(/\.\d+Z$/, 'Z') : '';

/** Who asked, for the event's meta: the actor, the client IP and the request id. */
export const requestMeta = (request: FastifyRequest, actor: string): EventMeta => ({
  actor,
  ip: request.ip,
  requestId: request.id,
});
