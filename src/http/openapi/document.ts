import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { refusals } from './answers.js';
import { plainJsonSerializerCompiler, zodValidatorCompiler } from './validation.js';

export const OPENAPI_PATH = '/api/openapi.json';

/** The machine-facing routes; the console's pages and forms are not part of the API. */
export const isDocumented = (url: string) =>
  url.startsWith('/api/') || url === '/livez' || url === '/readyz';

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];

/**
 * Route schemas are zod schemas everywhere (validation through zodValidatorCompiler),
 * and the OpenAPI 3.1 document at OPENAPI_PATH is generated from them. Registered before
 * any route: @fastify/swagger collects routes as they are added.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  app.setValidatorCompiler(zodValidatorCompiler);
  app.setSerializerCompiler(plainJsonSerializerCompiler);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Verstak Sync Server API',
        version,
        description:
          'The desktop sync API (pairing, push, pull, blobs, change notifications), the account API and the health endpoints. Refusals share one body, `{"error": …, "code": …}`; clients switch on `code`.',
      },
      components: {
        securitySchemes: {
          deviceToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'The device token from POST /api/client/pair',
          },
          sessionToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'A user session token from POST /api/v1/auth/login',
          },
          sessionCookie: { type: 'apiKey', in: 'cookie', name: 'user_session' },
        },
      },
    },
    transform: (input: TransformInput) =>
      isDocumented(input.url)
        ? jsonSchemaTransform(input)
        : { schema: { hide: true }, url: input.url },
    transformObject: jsonSchemaTransformObject,
  });
  const documentSchema = {
    summary: 'This document',
    response: {
      200: z.looseObject({ openapi: z.literal('3.1.0') }).describe('OpenAPI 3.1'),
      ...refusals({}),
    },
  };
  app.get(OPENAPI_PATH, { schema: documentSchema }, async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(JSON.stringify(app.swagger())),
  );
}
