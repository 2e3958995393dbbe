import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../errors.js';
import { DamagedEventError } from '../../log/errors.js';

// CONTRACT.md §2.1: the code used when nothing more specific applies.
const DEFAULT_CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'request_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  431: 'request_header_too_large',
};

export const defaultCode = (status: number) => DEFAULT_CODES[status] ?? 'internal_error';

const FASTIFY_CODES: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'request_too_large',
    message: 'request body too large',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    message: 'unsupported content type',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'invalid_json',
    message: 'request body must be a JSON value',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'invalid_request',
    message: 'invalid content length',
  },
};

interface KnownRoute {
  readonly methods: readonly string[];
  readonly pattern: RegExp;
}

const toPattern = (url: string) =>
  new RegExp(
    `^${url
      .split('/')
      .map((part) =>
        part.startsWith(':')
          ? '[^/]+'
          : part === '*'
            ? '.*'
            : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/')}$`,
  );

export function sendError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send(`${JSON.stringify({ error: message, code })}\n`);
}

// Storage failures are the server's, but the client can act on them: retry later.
const STORAGE_ERRORS: { match: RegExp; status: number; code: string; message: string }[] = [
  { match: /^SQLITE_FULL/, status: 507, code: 'storage_full', message: 'server storage is full' },
  { match: /^ENOSPC$/, status: 507, code: 'storage_full', message: 'server storage is full' },
  { match: /^SQLITE_BUSY/, status: 503, code: 'server_busy', message: 'server busy, try again' },
  {
    match: /^(SQLITE_IOERR|SQLITE_READONLY|SQLITE_CANTOPEN|EACCES|EIO|EROFS)/,
    status: 503,
    code: 'storage_unavailable',
    message: 'server storage unavailable, try again',
  },
];

const notFoundPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not found — Verstak Sync</title></head>
<body><main><h1>Page not found</h1><p><a href="/">Verstak Sync</a></p></main></body></html>
`;

export interface ErrorHandlingOptions {
  /** The HTML 404 page for paths outside /api/ (the web console's, in the reader's language). */
  readonly notFoundPage?: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/**
 * One place that turns failures into the wire shape. A 5xx never echoes its cause: the
 * client gets a generic message and the request id, the log gets the error.
 */
export const errorHandling = fp(
  async (app: FastifyInstance, options: ErrorHandlingOptions) => {
    const routes: KnownRoute[] = [];
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      routes.push({ methods, pattern: toPattern(route.url) });
    });
    app.setErrorHandler((err: FastifyError | AppError, request: FastifyRequest, reply) => {
      if (err instanceof AppError) {
        // A 429 is not logged here: a flood would write a line per request. The rate limits
        // count refusals and log a summary (app.ts, security/rate-limit-log.ts).
        reply.headers(err.headers);
        return sendError(reply, err.status, err.code, err.message);
      }
      const known = err.code ? FASTIFY_CODES[err.code] : undefined;
      if (known) {
        // A route may name its own code for an oversized body (push: too_many_operations).
        const routeCode = (request.routeOptions.config as { tooLargeCode?: string }).tooLargeCode;
        const code = known.status === 413 && routeCode ? routeCode : known.code;
        return sendError(reply, known.status, code, known.message);
      }
      const storage = STORAGE_ERRORS.find(
        (e) => typeof err.code === 'string' && e.match.test(err.code),
      );
      if (storage) {
        request.log.error({ err, reqId: request.id }, 'storage failure');
        reply.header('retry-after', '5');
        return sendError(reply, storage.status, storage.code, storage.message);
      }
      if (err instanceof DamagedEventError) {
        // Not retried away: the operator must restore. The rest of the log keeps serving.
        request.log.error({ err, seq: err.seq, reqId: request.id }, 'damaged event not served');
        return sendError(reply, 500, 'log_damaged', 'internal error: stored data is damaged');
      }
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        return sendError(
          reply,
          status,
          defaultCode(status),
          status === 400 ? 'bad request' : err.message,
        );
      }
      request.log.error({ err, reqId: request.id }, 'request failed');
      return sendError(reply, 500, 'internal_error', 'internal error');
    });

    const answerNotFound = (request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split('?')[0] ?? '/';
      const allowed = [
        ...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods)),
      ].filter((m) => m !== request.method);
      if (allowed.length > 0) {
        reply.header('allow', allowed.join(', '));
        return sendError(reply, 405, 'method_not_allowed', 'method not allowed');
      }
      if (path.startsWith('/api/')) return sendError(reply, 404, 'not_found', 'not found');
      if (options.notFoundPage && (request.method === 'GET' || request.method === 'HEAD')) {
        // A failed render goes to the error handler like any other failure.
        return options.notFoundPage(request, reply).catch((err: unknown) => reply.send(err));
      }
      return reply.code(404).type('text/html; charset=utf-8').send(notFoundPage);
    };
    // Answered before the body is read: a malformed or oversized body must not turn a
    // wrong method or an unknown path into 400 or 413 (CONTRACT.md §2).
    app.addHook('onRequest', (request, reply, done) => {
      // Answering from a callback-style hook: send and do not call done.
      if (request.is404) void answerNotFound(request, reply);
      else done();
    });
    app.setNotFoundHandler(answerNotFound);
  },
  { name: 'error-handling' },
);
