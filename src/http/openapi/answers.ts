import { z } from 'zod';

/** CONTRACT.md §2.1: every refusal, whatever the route. Clients switch on `code`. */
const errorBody = (description: string) =>
  z
    .object({
      error: z.string().describe('A message for people; never parsed by clients'),
      code: z.string().describe('The machine code (CONTRACT.md §2.1)'),
    })
    .describe(description);

/**
 * A route's refusals by status, each described by the codes it may carry, and `default`
 * for what any route may answer (413, 415, 429, 503 `server_busy`/`storage_unavailable`,
 * 507 `storage_full`, 500 `internal_error`/`log_damaged`).
 */
export function refusals(codes: Readonly<Record<number, string>>) {
  const byStatus: Record<string, z.ZodType> = {};
  for (const [status, description] of Object.entries(codes)) {
    byStatus[status] = errorBody(description);
  }
  byStatus.default = errorBody(
    'Any other refusal: request_too_large, unsupported_media_type, rate_limited, server_busy, storage_unavailable, storage_full, internal_error',
  );
  return byStatus;
}

/** A refusal that reaches JSON clients as the error body and browsers as a page. */
export const refusalOrPage = (description: string) => ({
  description,
  content: {
    'application/json': { schema: errorBody(description) },
    'text/html': { schema: z.string() },
  },
});

/** A page of the console served under /api (the confirm form). */
export const page = (description: string) => ({
  description,
  content: { 'text/html': { schema: z.string() } },
});

/** A redirect: no body (documented as JSON Schema's null, which OpenAPI shows as none). */
export const redirect = (description: string) => z.null().describe(description);

/** The answer of routes that only say what they did. */
export const StatusAnswer = (status: string) =>
  z.object({ status: z.literal(status) }).describe('Done');

/** RFC 3339 UTC with second precision, or '' when there is no such time. */
export const WireTime = z.string().describe('RFC 3339 UTC time (seconds), or empty');

type Security = { readonly [scheme: string]: readonly string[] }[];
export const DEVICE_TOKEN: Security = [{ deviceToken: [] }];
export const SESSION_TOKEN: Security = [{ sessionToken: [] }, { sessionCookie: [] }];
