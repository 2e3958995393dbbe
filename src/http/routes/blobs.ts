import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isSha256, type OpenBlob } from '../../blobs/blob-store.js';
import { createVerifiedBody, DigestMismatchError } from '../../blobs/digest-check.js';
import { BlobUnavailableError, type BlobScope } from '../../commands/blob-service.js';
import { AppError } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { createDeviceAuthenticator, type DevicePrincipal } from '../device-auth.js';
import { DEVICE_TOKEN, refusals } from '../openapi/answers.js';
import { BlobAnswer, BlobParams, BlobUploadBody } from '../openapi/desktop-schemas.js';
import { validateWith } from '../openapi/validation.js';
import { parseRange } from '../range.js';
import {
  blobTooLarge,
  createRequestTimeoutExemption,
  lingerAfterEarlyAnswer,
} from '../upload-connection.js';
import { receiveUpload } from './blob-upload.js';

export type BlobRouteDeps = Pick<
  Runtime,
  'db' | 'activity' | 'clock' | 'refusals' | 'config' | 'blobs'
>;

const MiB = 1024 * 1024;

// Stricter than the site-wide policy: a downloaded blob may hold anything, even HTML.
const BLOB_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

const scopeOf = (device: DevicePrincipal): BlobScope => ({
  userId: device.userId,
  vaultId: device.vaultId,
  deviceId: device.deviceId,
});

/** CONTRACT.md §4.8–4.9: content-addressed blobs, readable only through a reference. */
export async function blobRoutes(app: FastifyInstance, deps: BlobRouteDeps) {
  const { blobs, config } = deps;
  const maxBlobBytes = config.limits.max_blob_bytes;
  // The multipart framing around the file gets 1 MiB on top of the blob limit.
  const maxBodyBytes = maxBlobBytes + MiB;
  const uploadRate = {
    minBytesPerSecond: config.limits.min_upload_bytes_per_s,
    windowMs: config.timeouts.upload_rate_window_ms,
  };
  const exempt = createRequestTimeoutExemption(app.server);
  const authenticateDevice = createDeviceAuthenticator(deps);

  const deviceRefusals = {
    401: 'unauthorized: no, unknown or revoked device token',
    403: 'forbidden: the account is blocked',
  };
  const uploadSchema = {
    summary: 'Upload a blob (content-addressed; deduplicated per vault)',
    security: DEVICE_TOKEN,
    consumes: ['multipart/form-data'],
    body: BlobUploadBody,
    response: {
      200: BlobAnswer.describe('Stored: its hash and size'),
      ...refusals({
        ...deviceRefusals,
        400: 'invalid_multipart',
        408: 'upload_too_slow',
        413: 'blob_too_large, quota_exceeded',
      }),
    },
  };
  const binary = z.string().meta({ format: 'binary' });
  const downloadSchema = {
    summary: 'Download a blob referenced in the device’s vault (byte ranges honoured)',
    security: DEVICE_TOKEN,
    params: BlobParams,
    response: {
      200: { description: 'The blob', content: { 'application/octet-stream': { schema: binary } } },
      206: { description: 'A range', content: { 'application/octet-stream': { schema: binary } } },
      ...refusals({
        ...deviceRefusals,
        400: 'invalid_blob_hash',
        404: 'blob_not_found',
        416: 'range_not_satisfiable',
        500: 'blob_unavailable, internal_error',
      }),
    },
  };

  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<ZodTypeProvider>();
    scope.decorateRequest('device', null);
    // Bodies are read by the upload handler after authentication; no parser buffers them.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    await scope.register(multipart, {
      limits: { parts: 2, fileSize: maxBlobBytes + 1, fieldSize: 64 * 1024, headerPairs: 32 },
      throwFileSizeLimit: false,
    });
    scope.addHook('preHandler', authenticateDevice);
    scope.addHook('onSend', async (request, reply, payload) => {
      if (request.raw.socket instanceof Socket && !request.raw.complete) {
        reply.header('connection', 'close');
        lingerAfterEarlyAnswer(request.raw);
      }
      return payload;
    });
    scope.addHook('onError', async (request, _reply, err) => {
      if (err instanceof BlobUnavailableError) {
        request.log.error({ reqId: request.id, detail: err.detail }, 'blob unavailable');
      }
    });

    const upload = {
      bodyLimit: maxBodyBytes,
      schema: uploadSchema,
      // No parser has read the body (the handler streams it): there is nothing to check.
      validatorCompiler: validateWith(() => undefined),
    };
    scope.post('/api/v1/blobs/', upload, async (request) => {
      if (!request.isMultipart()) {
        throw new AppError(400, 'invalid_multipart', 'request body must be multipart/form-data');
      }
      if (Number(request.headers['content-length'] ?? 0) > maxBodyBytes) {
        throw blobTooLarge(maxBlobBytes);
      }
      const device = request.device!;
      return receiveUpload(request, blobs, {
        scope: scopeOf(device),
        actor: `device:${device.deviceId}`,
        guard: { maxBodyBytes, stallMs: config.timeouts.request_ms, rate: uploadRate, exempt },
      });
    });

    scope.get('/api/v1/blobs/:sha256', { schema: downloadSchema }, async (request, reply) => {
      const { sha256 } = request.params;
      if (!isSha256(sha256)) {
        throw new AppError(400, 'invalid_blob_hash', 'blob name must be 64 lowercase hex digits');
      }
      const blob = await blobs.open(scopeOf(request.device!), sha256);
      return sendBlob(request, reply, blob, sha256, (err) => {
        request.log.error({ reqId: request.id, err }, 'stored blob does not match its digest');
        void blobs.quarantine(sha256).catch(() => undefined);
      });
    });
  });
}

async function sendBlob(
  request: FastifyRequest,
  reply: FastifyReply,
  blob: OpenBlob,
  sha256: string,
  onMismatch: (err: DigestMismatchError) => void,
) {
  const range = parseRange(request.headers.range, blob.size);
  if (range.kind === 'unsatisfiable') {
    await blob.close();
    throw new AppError(416, 'range_not_satisfiable', 'requested range not satisfiable', {
      'content-range': `bytes */${blob.size}`,
    });
  }
  reply.headers({
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${sha256}"`,
    'content-security-policy': BLOB_CSP,
    'accept-ranges': 'bytes',
  });
  if (range.kind === 'partial') {
    reply
      .code(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`)
      .header('content-length', range.end - range.start + 1);
  } else {
    reply.header('content-length', blob.size);
  }
  if (request.method === 'HEAD') {
    await blob.close();
    return reply.send(Readable.from([]));
  }
  if (range.kind === 'partial') return reply.send(blob.read(range));
  // A whole download is checked against its digest on the way out (a range cannot be).
  const res = reply.raw;
  // Chunk buffers are reused once the socket has written them, which only the response
  // can tell, and only if it takes the body straight from the stream (no transform between).
  let direct = false;
  res.once('pipe', (source) => (direct = source === body));
  const body = createVerifiedBody(blob, sha256, {
    unflushedBytes: () => (direct ? res.writableLength : undefined),
  });
  body.on('error', (err) => {
    if (err instanceof DigestMismatchError) onMismatch(err);
  });
  return reply.send(body);
}
