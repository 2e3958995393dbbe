import { connect, type Socket } from 'node:net';
import type { HttpResult } from './http-client.js';

const HEAD_END = Buffer.from('\r\n\r\n');
const READ_BUFFER = 256 * 1024;

/**
 * One keep-alive HTTP/1.1 connection with one request in flight, written straight on a
 * socket. node:http's client costs more CPU per round trip than the server's pull handler,
 * and on a small machine the two share the cores, so the figure would largely measure the
 * client. For the same reason nothing is allocated per answer: reads land in one reused
 * buffer and the body is copied into another, so a result's body is only valid until the
 * next request on the connection. Each response is still read properly: status line,
 * headers, a body of exactly Content-Length bytes (a chunked or length-less answer is an
 * error here), and the connection must stay open.
 */
export class RawHttpConnection {
  private readonly socket: Socket;
  private readonly ready: Promise<void>;
  private head: Buffer = Buffer.alloc(0);
  private body: Buffer = Buffer.allocUnsafe(1 << 20);
  private pending: PendingRequest | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly host: string,
    port: number,
  ) {
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER);
    this.socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (bytes) => {
          this.onData(readBuffer.subarray(0, bytes));
          return true;
        },
      },
    });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  async post(path: string, body: string, token?: string): Promise<HttpResult> {
    await this.ready;
    if (this.failure) throw this.failure;
    if (this.pending) throw new Error('one request at a time on a raw connection');
    const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
    const request =
      `POST ${path} HTTP/1.1\r\nHost: ${this.host}\r\n${auth}` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, received: 0 };
      this.socket.write(request);
    });
  }

  close(): void {
    this.failure ??= new Error('connection closed');
    this.socket.destroy();
  }

  /** `chunk` lives in the reused read buffer: whatever is kept is copied out. */
  private onData(chunk: Buffer): void {
    const pending = this.pending;
    if (!pending) {
      this.fail(new Error('bytes from the server with no request in flight'));
      return;
    }
    if (!pending.head) {
      this.head = Buffer.concat([this.head, chunk]);
      const end = this.head.indexOf(HEAD_END);
      if (end < 0) return;
      try {
        pending.head = parseHead(this.head.subarray(0, end).toString('latin1'));
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      chunk = this.head.subarray(end + HEAD_END.length);
      this.head = Buffer.alloc(0);
      if (pending.head.length > this.body.length)
        this.body = Buffer.allocUnsafe(pending.head.length);
    }
    const { status, length } = pending.head;
    if (pending.received + chunk.length > length) {
      this.fail(new Error('more bytes than Content-Length'));
      return;
    }
    chunk.copy(this.body, pending.received);
    pending.received += chunk.length;
    if (pending.received < length) return;
    this.pending = undefined;
    pending.resolve({ status, body: this.body.subarray(0, length) });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(err);
  }
}

interface PendingRequest {
  readonly resolve: (r: HttpResult) => void;
  readonly reject: (e: Error) => void;
  head?: ParsedHead;
  received: number;
}

interface ParsedHead {
  readonly status: number;
  readonly length: number;
}

export function parseHead(head: string): ParsedHead {
  const lines = head.split('\r\n');
  const statusLine = /^HTTP\/1\.1 (\d{3}) /.exec(lines[0] ?? '');
  if (!statusLine) throw new Error(`not an HTTP/1.1 status line: ${lines[0]}`);
  let length: number | undefined;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') length = Number(value);
    if (name === 'transfer-encoding') throw new Error(`unsupported transfer-encoding ${value}`);
    if (name === 'connection' && value.toLowerCase() === 'close') {
      throw new Error('the server closes the connection');
    }
  }
  if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
    throw new Error('response without a valid Content-Length');
  }
  return { status: Number(statusLine[1]), length };
}
