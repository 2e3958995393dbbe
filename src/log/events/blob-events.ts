import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** The content is on disk at blobs/ab/cd/<sha256>, fsynced and verified. */
export const BlobStored = defineEvent(
  'BlobStored',
  z.object({ sha256: Sha256, size: z.number().int().nonnegative() }),
);

/** A (user, vault) may now reference and download this content. */
export const BlobReferenced = defineEvent(
  'BlobReferenced',
  z.object({
    sha256: Sha256,
    size: z.number().int().nonnegative(),
    userId: z.string(),
    vaultId: z.string(),
    deviceId: z.string(),
  }),
);

export const BLOB_EVENTS = [BlobStored, BlobReferenced] as const;
