import { createHash } from 'node:crypto';
import {
  copyFileSync,
  createReadStream,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { configPath } from '../config.js';
import { databaseFileOf } from '../runtime.js';
import { secretKeyFileOf } from '../security/secret-box.js';
import { readBuildInfo } from '../version.js';
import { tarBytesOf, writeTarGz } from './archive-write.js';
import { fsyncParent } from '../fsync.js';
import { memoryScratchDir, removeStaleScratch } from './memory-scratch.js';
import {
  blobArchivePath,
  FORMAT,
  FORMAT_VERSION,
  MANIFEST_NAME,
  type Manifest,
  type ManifestFile,
} from './manifest.js';
import { snapshotDatabase } from './snapshot.js';
import { isProcessRunning } from '../process-alive.js';

export type BackupPhase = 'database' | 'blobs' | 'archive';

export interface BackupOptions {
  readonly dataDir: string;
  readonly out: string;
  readonly env?: NodeJS.ProcessEnv;
  /** List blobs whose file is gone in the manifest instead of refusing the backup. */
  readonly allowMissingBlobs?: boolean;
  readonly now?: () => Date;
  readonly onProgress?: (phase: BackupPhase, done: number, total: number) => void;
  /** Copy the database into RAM (/dev/shm) when there is room; default true. */
  readonly memoryScratch?: boolean;
}

export interface BackupSummary {
  readonly archive: string;
  readonly archive_bytes: number;
  readonly head_seq: number;
  readonly chain_head: string;
  readonly epoch: string;
  readonly created_at: string;
  readonly database_bytes: number;
  readonly blobs: number;
  readonly blob_bytes: number;
  /** How many listed blobs had no file (only with allowMissingBlobs). */
  readonly missing_blobs: number;
  readonly files: number;
  readonly seconds: number;
}

async function sha256Of(file: string, onBytes: (n: number) => void = () => {}): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    onBytes((chunk as Buffer).length);
  }
  return hash.digest('hex');
}

/** A small file the backup holds as it is now (config.yml, the secret key), if there is one. */
function copyIfPresent(from: string, to: string): boolean {
  if (!existsSync(from)) return false;
  copyFileSync(from, to);
  return true;
}

/**
 * Puts a stored blob into the staging folder without copying its bytes when it can: a
 * hard link keeps the content even if the server deletes or replaces it meanwhile.
 */
function stageBlob(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
  try {
    linkSync(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    copyFileSync(from, to);
  }
}

const STAGING_PREFIX = 'backup-';

/** The database and its WAL: an upper bound of what the copy will take. */
function databaseBytesOf(database: string): number {
  const size = (file: string) => (existsSync(file) ? statSync(file).size : 0);
  return size(database) + size(`${database}-wal`);
}

/** Staging folders of backups that were killed hold a database-sized copy: remove them. */
function removeStaleStaging(tmpDir: string): void {
  for (const name of readdirSync(tmpDir)) {
    if (!name.startsWith(STAGING_PREFIX)) continue;
    const pid = Number(name.slice(STAGING_PREFIX.length).split('-')[0]);
    if (Number.isSafeInteger(pid) && pid > 0 && !isProcessRunning(pid)) {
      rmSync(join(tmpDir, name), { recursive: true, force: true });
    }
  }
}

/**
 * An online backup: a consistent copy of the database, config.yml, the secret key and
 * every blob the copied database knows, in one .tar.gz whose first entry is a manifest
 * with each file's size and sha256. Staging happens in `<data>/tmp` (blobs are hard
 * links there; the database copy is in RAM when there is room); the archive appears under
 * its name only once complete and fsynced.
 */
export async function createBackup(options: BackupOptions): Promise<BackupSummary> {
  const started = performance.now();
  const now = options.now ?? (() => new Date());
  const progress = options.onProgress ?? (() => {});
  const { dataDir, out } = options;
  const database = databaseFileOf(dataDir);
  if (!existsSync(database)) {
    throw new Error(`no server database at ${database} (check --data)`);
  }
  if (existsSync(out)) {
    throw new Error(`${out} already exists: choose a new name or remove the old archive first`);
  }
  if (!existsSync(dirname(out))) {
    throw new Error(`the folder of ${out} does not exist: create it first`);
  }
  const tmpDir = join(dataDir, 'tmp');
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  removeStaleStaging(tmpDir);
  removeStaleScratch();
  const staging = mkdtempSync(join(tmpDir, `${STAGING_PREFIX}${process.pid}-`));
  const partial = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  // The database copy goes to RAM when there is room: SQLite's backup API fsyncs its copy,
  // and on the server's disk that is a database-sized write burst the server's commits wait
  // behind, for a file that is deleted once it is in the archive.
  const scratch =
    (options.memoryScratch ?? true) ? memoryScratchDir(databaseBytesOf(database)) : undefined;
  try {
    const createdAt = now();
    const copy = join(scratch ?? staging, 'server.db');
    if (scratch) symlinkSync(copy, join(staging, 'server.db'));
    const snapshot = await snapshotDatabase(database, copy, (done, total) =>
      progress('database', done, total),
    );
    const files: ManifestFile[] = [];
    const add = async (path: string) => {
      const file = join(staging, path);
      files.push({ path, size: statSync(file).size, sha256: await sha256Of(file) });
    };
    await add('server.db');
    if (copyIfPresent(configPath(dataDir), join(staging, 'config.yml'))) await add('config.yml');
    const keyFile = secretKeyFileOf(dataDir, options.env ?? process.env);
    if (copyIfPresent(keyFile, join(staging, 'secret.key'))) await add('secret.key');

    const blobBytes = snapshot.blobs.reduce((sum, b) => sum + b.size, 0);
    let checked = 0;
    const missing: string[] = [];
    for (const blob of snapshot.blobs) {
      const path = blobArchivePath(blob.sha256);
      const source = join(dataDir, path);
      const staged = join(staging, path);
      try {
        stageBlob(source, staged);
      } catch (err) {
        if (options.allowMissingBlobs && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          missing.push(blob.sha256);
          continue;
        }
        throw new Error(
          `blob ${source} is missing (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}): ` +
            'the database lists it as stored: put the file back (from a device or an older backup), then back up again',
          { cause: err },
        );
      }
      // The staged link is what goes into the archive: its bytes must be the address.
      const digest = await sha256Of(staged, (n) => progress('blobs', (checked += n), blobBytes));
      const size = statSync(staged).size;
      if (digest !== blob.sha256 || size !== blob.size) {
        throw new Error(
          `blob ${source} is damaged (its bytes hash to ${digest}, ${size} bytes, not ${blob.size}): ` +
            'restore it from an older backup or from a device, then back up again',
        );
      }
      files.push({ path, size, sha256: digest });
    }

    const manifest: Manifest = {
      format: FORMAT,
      format_version: FORMAT_VERSION,
      created_at: createdAt.toISOString(),
      server_version: readBuildInfo().version,
      log: {
        head_seq: snapshot.position.headSeq,
        chain_head: snapshot.position.chainHead,
        epoch: snapshot.position.epoch,
        format: snapshot.position.logFormat,
      },
      ...(missing.length > 0 ? { missing_blobs: missing } : {}),
      files,
    };
    const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    writeFileSync(join(staging, MANIFEST_NAME), manifestText, { mode: 0o600 });

    const paths = [MANIFEST_NAME, ...files.map((f) => f.path)];
    const total = tarBytesOf([Buffer.byteLength(manifestText), ...files.map((f) => f.size)]);
    await writeTarGz({
      dir: staging,
      paths,
      file: partial,
      mtime: createdAt,
      onBytes: (done) => progress('archive', Math.min(done, total), total),
    });
    progress('archive', total, total);
    renameSync(partial, out);
    fsyncParent(out);
    return {
      archive: out,
      archive_bytes: statSync(out).size,
      head_seq: manifest.log.head_seq,
      chain_head: manifest.log.chain_head,
      epoch: manifest.log.epoch,
      created_at: manifest.created_at,
      database_bytes: snapshot.bytes,
      blobs: snapshot.blobs.length,
      blob_bytes: blobBytes,
      missing_blobs: missing.length,
      files: paths.length,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    rmSync(staging, { recursive: true, force: true });
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
}
