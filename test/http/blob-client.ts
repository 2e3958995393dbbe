import { createHash } from 'node:crypto';
import { request, type Agent } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StreamedUpload {
  readonly port: number;
  readonly token: string;
  /** The file is `blocks` repetitions of `block`, sent one block per write. */
  readonly block: Buffer;
  readonly blocks: number;
  /** Pause between blocks, to simulate a slow link. */
  readonly pauseMs?: number;
  /** Send the framing and this many blocks, then stop sending without closing. */
  readonly stallAfter?: number;
  /** Destroy the connection after this many blocks. */
  readonly abortAfter?: number;
  readonly chunked?: boolean;
  readonly agent?: Agent;
}

export interface UploadOutcome {
  readonly status?: number;
  readonly body?: string;
  /** A connection error seen before the whole answer was read. */
  readonly error?: string;
  /** Digest and length of the file as sent (when it was sent whole). */
  readonly sha256: string;
  readonly size: number;
}

const BOUNDARY = 'verstakbench0123456789';
const head = Buffer.from(
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="blob.bin"\r\n` +
    'Content-Type: application/octet-stream\r\n\r\n',
);
const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);

export const multipartLength = (fileBytes: number) => head.length + fileBytes + tail.length;

/** A real client upload through node:http, with backpressure, never holding the file whole. */
export function streamUpload(options: StreamedUpload): Promise<UploadOutcome> {
  const size = options.block.length * options.blocks;
  const hash = createHash('sha256');
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: Omit<UploadOutcome, 'sha256' | 'size'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...outcome, sha256: hash.copy().digest('hex'), size });
    };
    const req = request({
      host: '127.0.0.1',
      port: options.port,
      method: 'POST',
      path: '/api/v1/blobs/',
      agent: options.agent,
      headers: {
        authorization: `Bearer ${options.token}`,
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        ...(options.chunked ? {} : { 'content-length': String(multipartLength(size)) }),
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => finish({ status: res.statusCode, body }));
      res.on('error', (err) => finish({ status: res.statusCode, body, error: err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
    void (async () => {
      const write = (chunk: Buffer) =>
        new Promise<void>((done) => (req.write(chunk) ? done() : req.once('drain', done)));
      await write(head);
      for (let i = 0; i < options.blocks; i++) {
        if (settled || req.destroyed) return;
        if (i === options.stallAfter) return;
        if (i === options.abortAfter) {
          req.destroy();
          return;
        }
        hash.update(options.block);
        await write(options.block);
        if (options.pauseMs) await sleep(options.pauseMs);
      }
      req.end(tail);
    })();
  });
}

/**
 * A client that writes its whole request before reading a single byte of the answer,
 * the worst case for an early answer: it only survives a lingering close.
 */
export function writeAllThenRead(
  port: number,
  requestHead: string,
  bodyBytes: number,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received));
    socket.pause();
    const block = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < bodyBytes) {
        const next = block.subarray(0, Math.min(block.length, bodyBytes - sent));
        sent += next.length;
        if (!socket.write(next)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.resume();
    };
    socket.write(requestHead);
    pump();
  });
}

/** Downloads a blob through node:http, hashing as it streams. */
export function streamDownload(port: number, token: string, sha: string) {
  return new Promise<{
    status: number;
    length?: string;
    size: number;
    sha256: string;
    error?: string;
  }>((resolve) => {
    const hash = createHash('sha256');
    let size = 0;
    let settled = false;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: `/api/v1/blobs/${sha}`,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        const done = (error?: string) => {
          if (settled) return;
          settled = true;
          resolve({
            status: res.statusCode ?? 0,
            length: res.headers['content-length'],
            size,
            sha256: hash.digest('hex'),
            ...(error ? { error } : {}),
          });
        };
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          hash.update(chunk);
        });
        res.on('end', () => done());
        res.on('error', (err) => done(err.message));
        res.on('aborted', () => done('aborted'));
      },
    );
    req.on('error', (err) => resolve({ status: 0, size, sha256: '', error: err.message }));
    req.end();
  });
}

/** A download read slowly, a pause after every chunk: the server's socket stays full. */
export function slowDownload(port: number, token: string, sha: string) {
  return new Promise<{ status: number; size: number; sha256: string }>((resolve, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: `/api/v1/blobs/${sha}`,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          hash.update(chunk);
          res.pause();
          setTimeout(() => res.resume(), 1);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, size, sha256: hash.digest('hex') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}
