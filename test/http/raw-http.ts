import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Header names lower-cased; a repeated header keeps its last value. */
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Writes bytes on a fresh loopback connection, exactly as given (fetch and inject would
 * refuse or normalise a malformed request), and returns everything the server sent
 * until it closed the connection, or until `ms` passed.
 */
export function exchange(
  port: number,
  chunks: readonly (string | Buffer)[],
  ms = 5_000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${ms} ms; got: ${Buffer.concat(received).toString()}`));
    }, ms);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    // A reset after the answer (the server closed with our bytes unread) still leaves the
    // answer in what was received.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(received));
    });
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
    });
  });
}

/** Splits a byte stream into the HTTP/1.1 responses it holds (Content-Length framed). */
export function parseResponses(bytes: Buffer): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = bytes;
  for (let i = 0; i < 16 && rest.length > 0; i++) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) throw new Error(`incomplete response: ${rest.toString('latin1')}`);
    const [statusLine, ...lines] = rest.toString('latin1', 0, end).split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine ?? '')?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const body = rest.subarray(end + 4, end + 4 + length);
    responses.push({ status, headers, body: body.toString('utf8') });
    rest = rest.subarray(end + 4 + length);
  }
  return responses;
}

export async function rawRequest(port: number, request: string | Buffer): Promise<RawResponse> {
  const responses = parseResponses(await exchange(port, [request]));
  if (responses.length !== 1) throw new Error(`expected one response, got ${responses.length}`);
  return responses[0]!;
}
