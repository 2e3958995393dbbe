import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAnswerChecker } from '../../src/http/openapi/answer-check.js';
import { useApps } from '../helpers/app.js';
import { registeredRoutes } from './registered-routes.js';

const openApp = useApps();

type Document = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
};

async function documentOf(app: Awaited<ReturnType<typeof openApp>>['app']): Promise<Document> {
  const res = await app.inject({ method: 'GET', url: '/api/openapi.json' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  return res.json<Document>();
}

const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('GET /api/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const { app } = await openApp();
    const document = await documentOf(app);
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('lists every registered /api route, and no route the server does not have', async () => {
    const { app } = await openApp();
    const document = await documentOf(app);
    const apiRoutes = registeredRoutes(app)
      .filter((route) => / \/api\//.test(route) && !route.startsWith('HEAD '))
      .map((route) => {
        const [method, url] = route.split(' ') as [string, string];
        return `${method.toLowerCase()} ${toOpenApiPath(url)}`;
      });
    // The desktop's, the account API's and the live routes: a route list that shrank to
    // nothing would pass the comparison below.
    expect(apiRoutes.length).toBeGreaterThanOrEqual(19);
    const documented = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/api/'))
      .flatMap(([path, operations]) => Object.keys(operations).map((m) => `${m} ${path}`));
    expect(documented.sort()).toEqual(apiRoutes.sort());
  });

  it('gives every operation a success answer and the error body for the rest', async () => {
    const { app } = await openApp();
    const document = await documentOf(app);
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const statuses = Object.keys(operation.responses);
        expect(
          statuses.some((s) => /^2\d\d$/.test(s)),
          `${method} ${path}`,
        ).toBe(true);
        expect(statuses, `${method} ${path}`).toContain('default');
      }
    }
  });

  it('documents the push and pull bodies and answers with the desktop’s field names', async () => {
    const { app } = await openApp();
    const document = await documentOf(app);
    const pull = document.paths['/api/v1/sync/pull']!.post as unknown as {
      requestBody: { content: { 'application/json': { schema: { properties: object } } } };
      responses: { 200: { content: { 'application/json': { schema: { required: string[] } } } } };
    };
    expect(Object.keys(pull.requestBody.content['application/json'].schema.properties)).toEqual([
      'since_sequence',
      'page_limit',
      'wait_ms',
    ]);
    expect(pull.responses[200].content['application/json'].schema.required).toEqual([
      'server_sequence',
      'page_last_sequence',
      'has_more',
      'ops',
    ]);
    const events = document.paths['/api/v1/sync/events']!.get as unknown as {
      responses: { 200: { content: object } };
    };
    expect(Object.keys(events.responses[200].content)).toEqual(['text/event-stream']);
  });
});

describe('answers checked against the document', () => {
  it('finds an answer outside its schema, of an undocumented type, or off the document', async () => {
    const { app } = await openApp();
    const check = await createAnswerChecker(await documentOf(app));
    const page = { server_sequence: 3, page_last_sequence: 3, has_more: false, ops: [] };
    const pull = (body: unknown, status = 200, type = 'application/json') =>
      check('POST', '/api/v1/sync/pull', status, type, JSON.stringify(body));
    expect(pull(page)).toBeUndefined();
    const { has_more: _dropped, ...withoutHasMore } = page;
    expect(pull(withoutHasMore)).toMatch(/outside its schema.*has_more/);
    expect(pull({ ...page, extra: 1 })).toMatch(/outside its schema/);
    expect(pull({ ...page, ops: [{ op_id: 'a' }] })).toMatch(/outside its schema/);
    expect(pull(page, 200, 'text/html')).toMatch(/as text\/html/);
    expect(pull({ error: 'nope', code: 'invalid_json' }, 400)).toBeUndefined();
    expect(pull({ error: 'nope' }, 400)).toMatch(/outside its schema.*code/);
    expect(pull({ error: 'internal error', code: 'internal_error' }, 500)).toBeUndefined();
    expect(check('GET', '/api/v1/nothing', 200, 'application/json', '{}')).toMatch(
      /not in the document/,
    );
    expect(check('GET', '/api/v1/blobs/:sha256', 200, 'application/octet-stream', '')).toBe(
      undefined,
    );
  });

  it('turns a route’s answer that breaks its documented schema into a 500 naming it', async () => {
    const { app } = await openApp({
      routes: (app) => {
        const schema = { response: { 200: z.object({ count: z.number() }) } };
        app.get('/api/test/liar', { schema }, async () => ({ count: 'many' }));
      },
    });
    const res = await app.inject({ method: 'GET', url: '/api/test/liar' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'undocumented_answer' });
    expect(res.json<{ error: string }>().error).toMatch(/\/count/);
  });
});
