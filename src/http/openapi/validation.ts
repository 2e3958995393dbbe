import type { FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { AppError } from '../../errors.js';

/**
 * Shape errors in a JSON body (a string where a number belongs, a non-object) are
 * `invalid_json` on the wire (CONTRACT.md §2); the message names the first field at fault.
 */
export function invalidJson(error: z.ZodError): AppError {
  const issue = error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return new AppError(400, 'invalid_json', `${where}${issue?.message ?? 'invalid body'}`);
}

/**
 * Route schemas are zod schemas: the request part is parsed by the schema (defaults
 * filled in, unknown fields dropped) and a refusal is the contract's error, never
 * fastify's validation error. A route whose refusal carries a code of its own (the
 * push's per-field codes, a blob's name) validates with `validateWith` instead.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema }) =>
  (data) => {
    const result = schema.safeParse(data);
    return result.success ? { value: result.data } : { error: invalidJson(result.error) };
  };

/**
 * A route-level validator compiler around a hand-written check: it returns the checked
 * value or throws an AppError, which becomes the answer. The route's zod schema still
 * documents the part (the OpenAPI document is built from it).
 */
export const validateWith =
  <S>(check: (data: unknown) => unknown): FastifySchemaCompiler<S> =>
  () =>
  (data) => {
    try {
      return { value: check(data) };
    } catch (err) {
      if (err instanceof AppError) return { error: err };
      throw err;
    }
  };

/**
 * Answers are serialized as they were before they had schemas: with JSON.stringify, in
 * the handler's field order. A response schema documents an answer; it never reshapes it
 * (a schema-driven serializer would drop or reorder fields the desktop reads).
 */
export const plainJsonSerializerCompiler = () => (data: unknown) => JSON.stringify(data);
