import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDocumented } from './document.js';

/** Set to 1 (the test suite does) to check every API answer against the document. */
export const CHECK_ANSWERS_ENV = 'VERSTAK_CHECK_ANSWERS';

type Validate = ((data: unknown) => boolean) & { errors?: unknown };

interface Operation {
  readonly responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

/** `/api/v1/blobs/:sha256` → `/api/v1/blobs/{sha256}`, as @fastify/swagger writes paths. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
const pointerPart = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * What an answer breaks in the document: its status undocumented for its route, its media
 * type not among the documented ones, or its JSON body outside the documented schema.
 * `undefined` when it conforms. Streamed bodies (blobs, events) are checked by type only.
 */
export type AnswerChecker = (
  method: string,
  url: string,
  status: number,
  mediaType: string,
  body: unknown,
) => string | undefined;

export async function createAnswerChecker(document: object): Promise<AnswerChecker> {
  const { Ajv2020 } = await import('ajv/dist/2020.js');
  const { default: addFormats } = await import('ajv-formats');
  // strict off: the document carries OpenAPI's own keywords beside the JSON schemas.
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  (addFormats as unknown as (a: typeof ajv) => void)(ajv);
  ajv.addSchema(document, 'openapi');
  const compiled = new Map<string, Validate>();
  const paths = (document as { paths?: Record<string, Record<string, Operation>> }).paths ?? {};

  return (method, url, status, mediaType, body) => {
    const path = openApiPath(url);
    const verb = method === 'HEAD' ? 'get' : method.toLowerCase();
    const responses = paths[path]?.[verb]?.responses;
    if (!responses) return `${method} ${url} is not in the document`;
    const key = String(status) in responses ? String(status) : 'default';
    const response = responses[key];
    if (!response) return `${method} ${url} answered ${status}, which the document does not list`;
    if (body === undefined) return undefined;
    const content = response.content ?? {};
    if (!(mediaType in content)) {
      return `${method} ${url} answered ${status} as ${mediaType}; documented: ${Object.keys(content).join(', ') || 'no body'}`;
    }
    if (mediaType !== 'application/json' || typeof body !== 'string' || method === 'HEAD')
      return undefined;
    const ref = `openapi#/paths/${pointerPart(path)}/${verb}/responses/${key}/content/${pointerPart(mediaType)}/schema`;
    let validate = compiled.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: ref }) as Validate;
      compiled.set(ref, validate);
    }
    if (validate(JSON.parse(body))) return undefined;
    return `${method} ${url} answered ${status} outside its schema: ${JSON.stringify(validate.errors)}`;
  };
}

/** Stands for a body that is not a string. */
const STREAMED = Symbol('streamed');

const mediaTypeOf = (reply: FastifyReply) =>
  String(reply.getHeader('content-type') ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();

/**
 * Checks every answer of a documented route against the OpenAPI document the server
 * serves; an answer that does not conform is replaced by a 500 naming what it broke, so
 * a test that sees it fails. Off in production (CHECK_ANSWERS_ENV): it costs a schema
 * validation per answer.
 */
export function checkAnswers(app: FastifyInstance): void {
  let checker: Promise<AnswerChecker> | undefined;
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const url = request.routeOptions.url;
    // A route without response schemas is not the API's (a test's own route); that every
    // API route has them is a test of its own (test/http/openapi.e2e.test.ts).
    if (!url || !isDocumented(url) || !request.routeOptions.schema?.response) return payload;
    checker ??= createAnswerChecker(app.swagger());
    // A string is checked as JSON; a stream or buffer (a blob, the events) by type only.
    const body = typeof payload === 'string' || payload == null ? payload || undefined : STREAMED;
    const broken = (await checker)(request.method, url, reply.statusCode, mediaTypeOf(reply), body);
    if (!broken) return payload;
    request.log.error({ reqId: request.id, broken }, 'answer does not match the OpenAPI document');
    reply.code(500).type('application/json; charset=utf-8');
    return `${JSON.stringify({ error: `answer outside the document: ${broken}`, code: 'undocumented_answer' })}\n`;
  });
}
