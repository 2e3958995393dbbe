import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

/** Routes whose success answer is an endless event stream (CONTRACT.md §19). */
const STREAMING = new Set(['/api/v1/sync/events']);

/**
 * fastify.inject, also for a route whose 200 answer never ends: its answer is taken as soon
 * as the head is written; an open stream is left with an empty body and closed, an error
 * answer (which ends) is read whole. Other routes are injected as usual.
 */
export async function injectSettled(
  app: FastifyInstance,
  opts: InjectOptions,
): Promise<LightMyRequestResponse> {
  const path = (opts.url as string | undefined)?.split('?')[0] ?? '';
  if (!STREAMING.has(path)) return app.inject(opts);
  const res = await app.inject({ ...opts, payloadAsStream: true });
  const stream = res.stream();
  let body = '';
  if (res.statusCode >= 300 || opts.method === 'HEAD') {
    for await (const chunk of stream) body += String(chunk);
  } else {
    stream.destroy();
    res.raw.res.destroy();
  }
  return Object.assign(res, { body, payload: body, json: () => JSON.parse(body) as unknown });
}
