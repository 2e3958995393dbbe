import { connect, type Socket } from 'node:net';

/** What a raw HTTP/1.1 client saw: the parsed answer, and any socket error on the way. */
export interface RawOutcome {
  /** Every body byte was handed to the kernel without an error. */
  readonly sentAll: boolean;
  /** With `answerFirst`: the answer arrived before any body byte was sent. */
  readonly answeredBeforeBody: boolean;
  readonly status?: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** EPIPE, ECONNRESET, 'timeout': what the desktop would report instead of the answer. */
  readonly error?: string;
}

const CHUNK = 256 * 1024;
const GIVE_UP_MS = 40_000;
const EARLY_ANSWER_MS = 10_000;

function parseAnswer(raw: string): Pick<RawOutcome, 'status' | 'headers' | 'body'> {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { headers: {}, body: '' };
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? NaN);
  const rest = raw.slice(end + 4);
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: Number.isNaN(length) ? rest : rest.slice(0, length),
  };
}

export interface OversizedRequest {
  readonly port: number;
  readonly path: string;
  readonly token?: string;
  readonly bodyBytes: number;
  /** Transfer-Encoding: chunked, no Content-Length. */
  readonly chunked: boolean;
  /** Wait for the answer to arrive before sending any body byte. */
  readonly answerFirst?: boolean;
}

const headOf = (r: OversizedRequest) =>
  [
    `POST ${r.path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Content-Type: application/json',
    ...(r.token ? [`Authorization: Bearer ${r.token}`] : []),
    r.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${r.bodyBytes}`,
    '',
    '',
  ].join('\r\n');

/**
 * Sends an oversized JSON body the way the desktop does: the whole of it, in chunks, with
 * backpressure, reading nothing until the last byte is written (unless `answerFirst`).
 * Resolves once the server has closed the connection.
 */
export function sendOversized(request: OversizedRequest): Promise<RawOutcome> {
  return new Promise((resolve) => {
    // Half-open, as an HTTP client that writes its body apart from reading: the server's
    // FIN after its answer does not end our sending.
    const socket: Socket = connect({ port: request.port, host: '127.0.0.1', allowHalfOpen: true });
    const received: Buffer[] = [];
    let sentAll = false;
    let error: string | undefined;
    let answeredBeforeBody = false;
    const giveUp = setTimeout(() => {
      error ??= 'timeout';
      socket.destroy();
    }, GIVE_UP_MS);
    socket.on('error', (err: NodeJS.ErrnoException) => (error ??= err.code ?? err.message));
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    // The server's FIN may come while the body is still going out: end ours only after it.
    let peerEnded = false;
    let bodyDone = false;
    socket.on('end', () => {
      peerEnded = true;
      if (bodyDone) socket.end();
    });
    socket.on('close', () => {
      clearTimeout(giveUp);
      const raw = Buffer.concat(received).toString('latin1');
      resolve({ sentAll, answeredBeforeBody, ...parseAnswer(raw), ...(error ? { error } : {}) });
    });
    const filler = Buffer.alloc(CHUNK, 0x20);
    const prefix = Buffer.from('{"device_id":"d","ops":[');
    let sent = 0;
    const nextPiece = (): Buffer => {
      const size = Math.min(CHUNK, request.bodyBytes - sent);
      const piece =
        sent === 0 ? Buffer.concat([prefix, filler]).subarray(0, size) : filler.subarray(0, size);
      sent += size;
      return request.chunked
        ? Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
        : piece;
    };
    const finish = () => {
      if (request.chunked) socket.write('0\r\n\r\n');
      // The write callback fires once the kernel has the bytes, or with the error.
      socket.write('', (err) => {
        if (!err && !socket.destroyed) sentAll = true;
        bodyDone = true;
        if (peerEnded) socket.end();
        socket.resume();
      });
    };
    const pump = () => {
      while (sent < request.bodyBytes) {
        if (socket.destroyed) return;
        if (!socket.write(nextPiece())) {
          socket.once('drain', pump);
          return;
        }
      }
      finish();
    };
    socket.once('connect', () => {
      socket.write(headOf(request));
      if (!request.answerFirst) {
        socket.pause();
        pump();
        return;
      }
      // No body byte until the answer's first bytes are in: proof the server did not wait
      // for the body. Bounded: without an early answer the body is sent anyway.
      const early = setTimeout(() => {
        socket.off('data', onFirst);
        pump();
      }, EARLY_ANSWER_MS);
      const onFirst = () => {
        clearTimeout(early);
        answeredBeforeBody = true;
        socket.off('data', onFirst);
        socket.pause();
        pump();
      };
      socket.on('data', onFirst);
    });
  });
}
