import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { redactUrl } from '../../logger.js';
import { sendError } from './errors.js';
import { applySecurityHeaders, SECURITY_HEADERS } from './security-headers.js';

/**
 * Answers that fastify and Node write on their own, before any route or hook runs: a URL
 * the router cannot decode, a path parameter over maxParamLength, and what Node's HTTP
 * parser refuses (headers too large, a malformed request line). Left alone they echo the
 * URL, carry `FST_*` codes and none of the security headers or the request id. Here they
 * get the contract's `{error, code}` body (CONTRACT.md §2.1) and the same headers as
 * every other answer, and never repeat what the client sent.
 */

interface Answer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

const BAD_REQUEST: Answer = { status: 400, code: 'invalid_request', message: 'malformed request' };
const URI_TOO_LONG: Answer = { status: 414, code: 'uri_too_long', message: 'request URL too long' };

// The router's refusals (fastify's `frameworkErrors`).
const ROUTER_ANSWERS: Record<string, Answer> = {
  FST_ERR_BAD_URL: { status: 400, code: 'invalid_request', message: 'malformed URL' },
  FST_ERR_MAX_PARAM_LENGTH: URI_TOO_LONG,
};

export interface FrameworkErrorDeps {
  /** The Strict-Transport-Security value, or undefined (see hsts.ts). */
  readonly strictTransport: () => string | undefined;
  /** The request log; these answers skip the hooks that would write their line. */
  readonly log?: Logger;
}

/** fastify's `frameworkErrors` option: the router's refusals in the contract's shape. */
export function frameworkErrorHandler(deps: FrameworkErrorDeps) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const answer = ROUTER_ANSWERS[error.code] ?? {
      status: 500,
      code: 'internal_error',
      message: 'internal error',
    };
    if (answer.status >= 500) {
      request.log.error({ err: error, reqId: request.id }, 'request failed');
    }
    if (deps.log?.isLevelEnabled('info')) {
      // The line logRequests writes for every other request (app.ts), on the request's logger.
      request.log.info(
        {
          method: request.method,
          url: redactUrl(request.raw.url ?? ''),
          status: answer.status,
          ip: request.ip,
        },
        'request',
      );
    }
    applySecurityHeaders(reply, request.id, deps.strictTransport());
    reply.header('cache-control', 'no-store');
    sendError(reply, answer.status, answer.code, answer.message);
  };
}

/** What Node's parser refused, by its error code (as Node's own default answer does). */
function parserAnswer(err: ConnectionError): Answer {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      // The request line counts against the same limit: if it never ended, the URL is
      // what was too long.
      return requestLineEnded(err)
        ? { status: 431, code: 'request_header_too_large', message: 'request headers too large' }
        : URI_TOO_LONG;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'request_too_large', message: 'chunk extensions too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'request not received in time' };
    default:
      return BAD_REQUEST;
  }
}

// A request line's start ("GET /x") and end (" HTTP/1.1" then the line break).
const REQUEST_LINE_START = /^[A-Z]+ /;
const REQUEST_LINE_END = /^ HTTP\/\d\.\d\r?\n/;

/**
 * Node counts the request line and the headers against one limit and reports both as a
 * header overflow. `rawPacket` is the chunk the parser refused and `bytesParsed` where in
 * it the overflow was found: at the end of the URL (followed by " HTTP/1.1") or inside a
 * line that starts like a request line, the URL is what was too long. A best guess, only
 * ever choosing between two refusals: what cannot be told apart is answered 431.
 */
function requestLineEnded(err: ConnectionError): boolean {
  const packet = err.rawPacket as unknown;
  if (!Buffer.isBuffer(packet) || !Number.isInteger(err.bytesParsed)) return true;
  const at = Math.min(Math.max(err.bytesParsed, 0), packet.length);
  const after = packet.toString('latin1', at, Math.min(at + 12, packet.length));
  if (REQUEST_LINE_END.test(after)) return false;
  // lastIndexOf counts a negative offset from the end: nothing to search before 0.
  const lineStart = at > 0 ? packet.lastIndexOf(0x0a, at - 1) + 1 : 0;
  return !REQUEST_LINE_START.test(packet.toString('latin1', lineStart, lineStart + 16));
}

/** A complete HTTP/1.1 answer for a socket that has no request object to answer through. */
export function rawErrorResponse(
  answer: Answer,
  requestId: string,
  strictTransport: string | undefined,
): string {
  const body = `${JSON.stringify({ error: answer.message, code: answer.code })}\n`;
  const headers: [string, string][] = [
    ['content-type', 'application/json; charset=utf-8'],
    ['content-length', String(Buffer.byteLength(body))],
    ['cache-control', 'no-store'],
    ...Object.entries(SECURITY_HEADERS),
    ['x-request-id', requestId],
    ...(strictTransport
      ? [['strict-transport-security', strictTransport] as [string, string]]
      : []),
    ['date', new Date().toUTCString()],
    ['connection', 'close'],
  ];
  const head = headers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n${head}\r\n${body}`;
}

interface ClientErrorDeps extends FrameworkErrorDeps {
  readonly requestId: () => string;
}

/** Node keeps the response in progress on a socket here; private, but stable since Node 0.x. */
type ServerSocket = Socket & { _httpMessage?: ServerResponse | null };

/** Writes the answer unless another one has begun on the socket, then closes it. */
function answerAndClose(socket: Socket, text: string | undefined): void {
  if (socket.destroyed) return;
  if (socket.writable && text !== undefined) socket.end(text);
  // Closed once the answer is flushed: end() first, destroy when finished.
  if (socket.writableFinished || !socket.writable) socket.destroy();
  else socket.once('finish', () => socket.destroy());
}

/**
 * fastify's `clientErrorHandler` option, for the server's 'clientError' event: the parser
 * refused the bytes before a request existed, so the answer is written on the socket.
 */
export function clientErrorHandler(deps: ClientErrorDeps) {
  // The parser may report the same socket again while it waits for an earlier answer.
  const refusing = new WeakSet<Socket>();
  return (err: ConnectionError, socket: Socket): void => {
    // A reset or a socket already gone: nobody to answer (as Node and fastify do).
    if (err.code === 'ECONNRESET' || socket.destroyed || refusing.has(socket)) return;
    refusing.add(socket);
    const answer = parserAnswer(err);
    const requestId = deps.requestId();
    if (deps.log?.isLevelEnabled('info')) {
      deps.log.info(
        { reqId: requestId, status: answer.status, reason: err.code, ip: socket.remoteAddress },
        'malformed request refused',
      );
    }
    const text = () => rawErrorResponse(answer, requestId, deps.strictTransport());
    const pending = (socket as ServerSocket)._httpMessage;
    if (pending && pending.req.complete && !pending.writableFinished) {
      // A pipelined request refused behind a complete one still being answered: that
      // answer goes out first (Node's own handler would cut it off), then this one.
      const after = () => answerAndClose(socket, text());
      pending.once('finish', after);
      socket.once('close', () => pending.off('finish', after));
      return;
    }
    // The refused request is the one being answered (a body cut by the request timeout):
    // this answer replaces it, unless its first bytes have already gone out.
    answerAndClose(socket, pending?.headersSent ? undefined : text());
  };
}
