import type { IncomingMessage, Server } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AppError } from '../errors.js';
import { watchUploadRate, type UploadRate } from './upload-rate.js';

const MiB = 1024 * 1024;

/** How long, and how much, a connection is drained after an early answer. */
export const LINGER = { ms: 5_000, bytes: 64 * MiB };

export const blobTooLarge = (limit: number) =>
  new AppError(413, 'blob_too_large', `blob exceeds the limit of ${limit} bytes`);

type ClientErrorListener = (this: Server, err: NodeJS.ErrnoException, socket: Duplex) => void;

/**
 * The server-wide requestTimeout bounds a whole request, which would cut a large upload
 * that is still arriving steadily. Node reports that timeout through 'clientError'; for
 * sockets marked here it is ignored and the upload's own stall watchdog governs instead.
 * Returns `exempt(socket)`, which returns the function that ends the exemption.
 */
export function createRequestTimeoutExemption(server: Server) {
  const exempt = new WeakSet<object>();
  const listeners = server.listeners('clientError') as ClientErrorListener[];
  server.removeAllListeners('clientError');
  server.on('clientError', function (this: Server, err: NodeJS.ErrnoException, socket: Duplex) {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && exempt.has(socket)) return;
    for (const listener of listeners) listener.call(this, err, socket);
  });
  return (socket: object) => {
    exempt.add(socket);
    return () => exempt.delete(socket);
  };
}

export interface UploadGuard {
  /** Aborted with the AppError to answer: body over its cap, or no data for too long. */
  readonly signal: AbortSignal;
  /** Settles like `promise`, or rejects as soon as the upload is aborted. */
  race<T>(promise: Promise<T>): Promise<T>;
  release(): void;
}

/**
 * Watches an upload as it arrives: caps the raw body (file plus multipart framing),
 * aborts when no data arrives for `stallMs` or when a window of `rate.windowMs` brings
 * less than `rate.minBytesPerSecond`, however long a steady upload takes.
 * Attach it only once the body is being consumed: it listens for 'data'.
 */
export function guardUpload(
  raw: IncomingMessage,
  options: {
    maxBodyBytes: number;
    stallMs: number;
    rate: UploadRate;
    exempt: (socket: object) => () => void;
  },
): UploadGuard {
  const controller = new AbortController();
  const abort = (reason: AppError) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  let received = 0;
  const watchdog = setTimeout(
    () => abort(new AppError(408, 'request_timeout', 'upload stalled')),
    options.stallMs,
  );
  const rate = watchUploadRate(options.rate, () =>
    abort(
      new AppError(
        408,
        'upload_too_slow',
        `upload slower than ${options.rate.minBytesPerSecond} bytes per second`,
      ),
    ),
  );
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    rate.count(chunk.length);
    watchdog.refresh();
    if (received > options.maxBodyBytes) abort(blobTooLarge(options.maxBodyBytes));
  };
  // Once the whole body is in, a slow disk is not the client's stall.
  const onEnd = () => {
    clearTimeout(watchdog);
    rate.stop();
  };
  raw.on('data', onData);
  raw.once('end', onEnd);
  const endExemption = options.exempt(raw.socket);
  const aborted = new Promise<never>((_resolve, reject) => {
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason as AppError));
  });
  aborted.catch(() => undefined);
  return {
    signal: controller.signal,
    race: (promise) => Promise.race([promise, aborted]),
    release() {
      clearTimeout(watchdog);
      rate.stop();
      raw.off('data', onData);
      raw.off('end', onEnd);
      endExemption();
    },
  };
}

/** A lingering close lasts at most this many times its idle bound, however the client sends. */
const LINGER_LIMIT = 4;

/**
 * An answer sent before the client finished sending (413, 401, 400) must still reach it.
 * Closing at once would leave unread request bytes in the kernel, which then resets the
 * connection, and a reset can discard the answer before the client reads it. So: answer
 * with `Connection: close`, shut down only our sending side, read and discard the rest
 * while it keeps coming (idle and total time and byte count bounded), then close
 * ("lingering close", as web servers do).
 */
export function lingerAfterEarlyAnswer(raw: IncomingMessage, bounds = LINGER): void {
  raw.unpipe();
  raw.resume();
  const socket = raw.socket;
  if (!(socket instanceof Socket)) return;
  // Node ends a `Connection: close` response with socket.destroySoon(); linger instead.
  // The rest is drained through the request, not the socket: a 'data' listener on the
  // socket would take it from Node's HTTP parser, which then stops reading.
  socket.destroySoon = function lingeringClose(this: Socket) {
    this.end();
    const close = () => {
      if (this.writableFinished) this.destroy();
      else this.once('finish', () => this.destroy());
    };
    if (raw.readableEnded) {
      close();
      return;
    }
    let drained = 0;
    // `ms` without a byte cuts it; a client still writing (a busy machine sends slowly) is
    // drained on, but never for longer than LINGER_LIMIT times `ms` in all.
    const idle = setTimeout(() => this.destroy(), bounds.ms);
    const limit = setTimeout(() => this.destroy(), bounds.ms * LINGER_LIMIT);
    raw.on('data', (chunk: Buffer) => {
      drained += chunk.length;
      if (drained > bounds.bytes) this.destroy();
      else idle.refresh();
    });
    raw.once('end', close);
    this.once('close', () => {
      clearTimeout(idle);
      clearTimeout(limit);
    });
  };
}
