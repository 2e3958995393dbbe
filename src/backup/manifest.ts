import { z } from 'zod';

/** The first entry of every archive; restore reads it before it trusts any other byte. */
export const MANIFEST_NAME = 'manifest.json';
export const FORMAT = 'verstak-sync-backup';
export const FORMAT_VERSION = 1;

const SHA256 = /^[0-9a-f]{64}$/;
const BLOB_PATH = /^blobs\/([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{64})$/;
const FIXED_PATHS = new Set(['server.db', 'config.yml', 'secret.key']);

/**
 * The only names an archive may hold besides the manifest: a fixed set and content
 * addresses. Anything else (`../x`, absolute paths, links) is refused before it is written.
 */
export function isArchivePath(path: string): boolean {
  if (FIXED_PATHS.has(path)) return true;
  const blob = BLOB_PATH.exec(path);
  return blob !== null && blob[3]!.startsWith(`${blob[1]}${blob[2]}`);
}

export const blobArchivePath = (sha256: string) =>
  `blobs/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;

const sha256 = z.string().regex(SHA256);
const count = z.number().int().nonnegative();

export const ManifestSchema = z.object({
  format: z.literal(FORMAT),
  format_version: z.literal(FORMAT_VERSION),
  created_at: z.string(),
  server_version: z.string(),
  log: z.object({
    /** The seq of the last event in the copied database (0: empty log). */
    head_seq: count,
    /** That event's chain hash (the genesis hash for an empty log). */
    chain_head: sha256,
    /** The epoch of the server the copy was taken from; a restore starts a new one. */
    epoch: z.string(),
    /** The log's storage format (LOG_FORMAT_VERSION); archives from before it was recorded hold 1. */
    format: z.number().int().positive().default(1),
  }),
  /** Blobs the database lists but the data directory lacked (`--allow-missing-blobs`). */
  missing_blobs: z.array(sha256).optional(),
  files: z.array(
    z.object({
      path: z.string().refine(isArchivePath, 'not a path a backup holds'),
      size: count,
      sha256,
    }),
  ),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestFile = Manifest['files'][number];
