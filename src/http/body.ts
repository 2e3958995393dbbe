import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { EventMeta } from '../log/index.js';
import { invalidJson } from './openapi/validation.js';

/**
 * A JSON body parsed by a zod schema in a handler, refused as the route schemas refuse
 * (openapi/validation.ts): the admin API's routes, which the OpenAPI document leaves out.
 */
export function parseJsonBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body ?? null);
  if (result.success) return result.data;
  throw invalidJson(result.error);
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

/**
 * Sends JSON text a command assembled itself (the push answer, a pull page) as it is:
 * the route's response schema documents it, nothing serializes it again.
 */
export const sendJsonText = (reply: FastifyReply, text: string): FastifyReply =>
  reply.type('application/json; charset=utf-8').send(`${text}\n`);
