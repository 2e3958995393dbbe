import { createHash } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { MANIFEST_NAME, ManifestSchema, type Manifest, type ManifestFile } from './manifest.js';

/** A refusal of the archive: the message names the archive or the member at fault. */
export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

// Node's zlib writes this exact gzip header (no name, mtime 0, unix). Its bytes are the
// only ones no checksum covers, so they are compared as they are.
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

function checkGzipHeader(archive: string): void {
  const fd = openSync(archive, 'r');
  try {
    const head = Buffer.alloc(GZIP_HEADER.length);
    const read = readSync(fd, head, 0, head.length, 0);
    if (read !== head.length || !head.equals(GZIP_HEADER)) {
      throw new ArchiveError(
        `${archive}: not a backup archive, or its gzip header is damaged (expected the header ` +
          '`backup` writes); use another copy of the backup',
      );
    }
  } finally {
    closeSync(fd);
  }
}

const readAll = (entry: ReadEntry): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    entry.on('data', (chunk: Buffer) => chunks.push(chunk));
    entry.on('end', () => resolve(Buffer.concat(chunks)));
    entry.on('error', reject);
  });

/** Streams one member to its file (mode 0600, which must not exist yet) while hashing it. */
async function writeMember(
  entry: ReadEntry,
  file: string,
): Promise<{ size: number; sha256: string }> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const handle = await open(file, 'wx', 0o600);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of entry as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      await handle.write(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Unpacks a backup into `into` (an empty directory) while checking it against its
 * manifest, which must come first: only the names it lists, each once, each with its size
 * and sha256, none missing. Any damage, a flipped byte anywhere included (gzip's CRC
 * covers the tar stream, the manifest covers every member), is an ArchiveError naming
 * the archive or the member. Written files are fsynced; the caller removes `into` on error.
 */
export async function unpackVerified(
  archive: string,
  into: string,
  onBytes: (done: number, total: number) => void = () => {},
): Promise<Manifest> {
  checkGzipHeader(archive);
  let manifest: Manifest | undefined;
  const expected = new Map<string, ManifestFile>();
  const seen = new Set<string>();
  let current = '(start of archive)';
  let reading: ReadEntry | undefined;
  let failure: Error | undefined;
  const fail = (err: Error) => (failure ??= err);
  let done = 0;
  let total = 0;

  const handleEntry = async (entry: ReadEntry) => {
    const path = entry.path;
    current = path;
    reading = entry;
    if (entry.type !== 'File' && entry.type !== 'OldFile') {
      throw new ArchiveError(`${archive}: unexpected ${entry.type} entry ${path}`);
    }
    if (manifest === undefined) {
      if (path !== MANIFEST_NAME) {
        throw new ArchiveError(`${archive}: ${MANIFEST_NAME} must come first, found ${path}`);
      }
      if (entry.size > MAX_MANIFEST_BYTES) {
        throw new ArchiveError(`${archive}: ${MANIFEST_NAME} is implausibly large`);
      }
      const text = (await readAll(entry)).toString('utf8');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ArchiveError(`${archive}: ${MANIFEST_NAME} is not valid JSON (damaged)`);
      }
      const result = ManifestSchema.safeParse(parsed);
      if (!result.success) {
        throw new ArchiveError(
          `${archive}: ${MANIFEST_NAME} is not a backup manifest this server reads ` +
            `(${result.error.issues[0]?.path.join('.')}: ${result.error.issues[0]?.message})`,
        );
      }
      manifest = result.data;
      for (const file of manifest.files) expected.set(file.path, file);
      total = manifest.files.reduce((sum, f) => sum + f.size, 0);
      return;
    }
    const want = expected.get(path);
    if (want === undefined) {
      throw new ArchiveError(`${archive}: ${path} is not listed in ${MANIFEST_NAME}`);
    }
    if (seen.has(path)) throw new ArchiveError(`${archive}: ${path} appears twice`);
    seen.add(path);
    const got = await writeMember(entry, join(into, path));
    done += got.size;
    onBytes(done, total);
    if (got.size !== want.size || got.sha256 !== want.sha256) {
      throw new ArchiveError(
        `${archive}: ${path} does not match the manifest (${got.size} bytes, sha256 ${got.sha256}; ` +
          `expected ${want.size} bytes, sha256 ${want.sha256}): the archive is damaged`,
      );
    }
  };

  // Entries are handled one at a time: the parser waits while an entry's data is unread.
  let queue: Promise<void> = Promise.resolve();
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry) => {
      queue = queue.then(async () => {
        if (failure) {
          entry.resume();
          return;
        }
        try {
          await handleEntry(entry);
        } catch (err) {
          fail(err as Error);
          entry.resume();
        }
      });
    },
  });

  await new Promise<void>((resolve) => {
    const input = createReadStream(archive);
    const gunzip = createGunzip();
    const stop = (err: Error) => {
      fail(err);
      input.destroy();
      // The member being read gets no more data: end it, so its writer finishes and closes.
      try {
        reading?.end();
      } catch {
        // Already ended.
      }
      resolve();
    };
    input.on('error', (err) => stop(new ArchiveError(`${archive}: cannot read (${err.message})`)));
    gunzip.on('error', (err) =>
      stop(
        new ArchiveError(
          `${archive}: damaged (gzip: ${err.message}) while reading ${current}; use another copy of the backup`,
        ),
      ),
    );
    parser.on('error', (err: Error) =>
      stop(new ArchiveError(`${archive}: damaged tar data near ${current} (${err.message})`)),
    );
    parser.on('end', () => resolve());
    input.pipe(gunzip).pipe(parser);
  });
  await queue;
  if (failure) throw failure;
  if (manifest === undefined)
    throw new ArchiveError(`${archive}: empty archive, no ${MANIFEST_NAME}`);
  const missing = [...expected.keys()].filter((p) => !seen.has(p));
  if (missing.length > 0) {
    throw new ArchiveError(
      `${archive}: ${missing.length} file(s) of the manifest are missing, first ${missing[0]} (truncated archive?)`,
    );
  }
  return manifest;
}
