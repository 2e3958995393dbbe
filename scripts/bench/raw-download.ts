import { createHash } from 'node:crypto';
import { connect } from 'node:net';

const MiB = 1024 * 1024;
const MAX_HEAD = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

export interface Download {
  readonly status: number;
  /** Body bytes received; short of Content-Length when the server cut the transfer. */
  readonly size: number;
  readonly contentLength: number;
  readonly sha256: string;
}

interface Head {
  readonly status: number;
  readonly contentLength: number;
}

function parseHead(text: string): Head {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(`${statusLine} `);
  if (!status) throw new Error(`not an HTTP/1.x answer: ${statusLine}`);
  let contentLength: number | undefined;
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'transfer-encoding') throw new Error(`unexpected transfer-encoding ${value}`);
    if (name === 'content-length') {
      if (
        !/^\d+$/.test(value) ||
        (contentLength !== undefined && Number(value) !== contentLength)
      ) {
        throw new Error(`bad content-length ${value}`);
      }
      contentLength = Number(value);
    }
  }
  if (contentLength === undefined) throw new Error('answer without content-length');
  return { status: Number(status[1]), contentLength };
}

/**
 * GET `path` over a plain HTTP/1.1 connection (Connection: close) and hash the body as it
 * arrives. Node's HTTP client allocates a buffer per 64 KiB read and parses in JavaScript,
 * which on a small machine costs the load generator more than the server it measures; this
 * reads into one reused 1 MiB buffer. Answers must carry Content-Length (blob downloads do).
 */
export function rawDownload(url: URL, path: string, token: string): Promise<Download> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let pendingHead: Buffer[] = [];
    let headBytes = 0;
    let head: Head | undefined;
    let size = 0;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err) reject(err);
      else if (!head) reject(new Error('connection closed before the answer head'));
      else resolve({ ...head, size, sha256: hash.digest('hex') });
    };
    const onBody = (body: Buffer) => {
      const wanted = head!.contentLength - size;
      if (body.length > wanted) return finish(new Error('more body than content-length'));
      hash.update(body);
      size += body.length;
      if (size === head!.contentLength) finish();
    };
    const onRead = (nread: number, buffer: Buffer) => {
      const data = buffer.subarray(0, nread);
      if (head) return onBody(data);
      // Copied: the read buffer is reused for the next read.
      pendingHead.push(Buffer.from(data));
      headBytes += nread;
      const all = Buffer.concat(pendingHead);
      const end = all.indexOf(HEAD_END);
      if (end < 0) {
        if (headBytes > MAX_HEAD) finish(new Error('answer head too large'));
        return;
      }
      pendingHead = [];
      try {
        head = parseHead(all.subarray(0, end).toString('latin1'));
      } catch (err) {
        return finish(err as Error);
      }
      if (head.contentLength === 0) return finish();
      const rest = all.subarray(end + HEAD_END.length);
      if (rest.length > 0) onBody(rest);
    };
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      onread: {
        buffer: Buffer.allocUnsafe(MiB),
        callback: (nread, buffer) => {
          onRead(nread, buffer as Buffer);
          return true;
        },
      },
    });
    // A server that stops a transfer short (a digest mismatch) closes or resets the connection.
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err: NodeJS.ErrnoException) =>
      head && err.code === 'ECONNRESET' ? finish() : finish(err),
    );
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${token}\r\n` +
        'Connection: close\r\n\r\n',
    );
  });
}
