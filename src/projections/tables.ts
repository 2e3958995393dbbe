import type { BlobRefsTable, BlobsTable } from './blobs.js';
import type { DevicesTable } from './devices.js';
import type { UsersTable } from './users.js';

/** Every projection table, for kysely's typing. */
export interface Database {
  users: UsersTable;
  devices: DevicesTable;
  blobs: BlobsTable;
  blob_refs: BlobRefsTable;
}
