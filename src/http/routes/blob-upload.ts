import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { BlobTooLargeError } from '../../blobs/blob-store.js';
import type { BlobScope, BlobService } from '../../commands/blob-service.js';
import { AppError } from '../../errors.js';
import { blobTooLarge, guardUpload } from '../upload-connection.js';
import { requestMeta } from '../body.js';

type Part = MultipartFile | MultipartValue;

const invalidMultipart = (message: string) => new AppError(400, 'invalid_multipart', message);

const storageFull = () => new AppError(507, 'storage_full', 'server storage is full');

const isErrno = (err: unknown): err is NodeJS.ErrnoException =>
  err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';

/** Disk full is the client's to retry later; other I/O failures stay 500s. */
function storageError(err: unknown): unknown {
  if (isErrno(err) && (err.code === 'ENOSPC' || err.code === 'EDQUOT')) return storageFull();
  return err;
}

/** Anything but our own answers and I/O failures, while parsing, is a malformed body. */
function receivingError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (err instanceof BlobTooLargeError) return blobTooLarge(err.limit);
  if (isErrno(err)) return storageError(err);
  return invalidMultipart('malformed multipart body');
}

const rethrow =
  (map: (err: unknown) => unknown) =>
  (err: unknown): never => {
    throw map(err);
  };

/** CONTRACT.md §4.8: exactly one part, form name `file`, with a filename. */
function acceptedFile(part: IteratorResult<Part>): MultipartFile {
  if (part.done) throw invalidMultipart('a part named "file" is required');
  const first = part.value;
  if (first.type !== 'file' || first.fieldname !== 'file' || !first.filename) {
    throw invalidMultipart('the first part must be a file named "file" with a filename');
  }
  return first;
}

/**
 * Streams the single file part to staging while hashing it, makes sure nothing follows
 * it, then commits it for the caller's scope. The staged copy never outlives a failure.
 */
export async function receiveUpload(
  request: FastifyRequest,
  blobs: BlobService,
  options: {
    scope: BlobScope;
    actor: string;
    guard: Parameters<typeof guardUpload>[1];
  },
): Promise<{ sha256: string; size: number }> {
  const parts = request.parts();
  const first = parts.next(); // starts reading the body into the parser
  const guard = guardUpload(request.raw, options.guard);
  try {
    const file = acceptedFile(await guard.race(first).catch(rethrow(receivingError))).file;
    guard.signal.addEventListener('abort', () => file.destroy(guard.signal.reason as Error));
    const temp = await blobs.receive(file).catch(rethrow(receivingError));
    try {
      const next = await guard.race(parts.next()).catch(rethrow(receivingError));
      if (!next.done) throw invalidMultipart('exactly one part is allowed');
      const meta = requestMeta(request, options.actor);
      return await blobs.commit(temp, options.scope, meta).catch(rethrow(storageError));
    } catch (err) {
      await blobs.discard(temp);
      throw err;
    }
  } finally {
    guard.release();
  }
}
