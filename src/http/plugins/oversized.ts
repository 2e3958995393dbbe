import { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { lingerAfterEarlyAnswer } from '../upload-connection.js';

const MiB = 1024 * 1024;

/**
 * How long without a byte (four times that in all), and how much, the unread rest of a JSON
 * body is drained after an early answer.
 * Larger than the blob route's: the desktop writes a whole push batch (tens of MB) before it
 * reads, and the 413 must reach it or it retries the same batch forever (CONTRACT.md §17.3).
 * Past either bound the connection is cut, so a hostile sender holds it no longer.
 */
export const JSON_LINGER = { ms: 15_000, bytes: 256 * MiB };

const hasBody = (raw: IncomingMessage) =>
  raw.headers['transfer-encoding'] !== undefined || Number(raw.headers['content-length']) > 0;

/**
 * An answer sent while the request body is still arriving (413 over the body cap — at once
 * when Content-Length already says so, 401 from the auth hook, 404) ends the connection with
 * a lingering close instead of fastify's plain close, which resets a client that is still
 * writing and can destroy the answer before the client reads it. A body-less request is
 * left alone: it may be answered before Node has marked it complete, and keeps its
 * keep-alive connection.
 */
export const oversizedBodies = fp(
  async (app: FastifyInstance) => {
    app.addHook('onSend', (request, reply, payload, done) => {
      const raw = request.raw;
      if (!raw.complete && raw.socket instanceof Socket && hasBody(raw)) {
        reply.header('connection', 'close');
        lingerAfterEarlyAnswer(raw, JSON_LINGER);
      }
      done(null, payload);
    });
  },
  { name: 'oversized-bodies' },
);
