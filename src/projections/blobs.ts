import type { Sqlite } from '../log/index.js';
import { BLOB_COUNTER_TABLES, BLOB_COUNTERS_DDL } from './counters.js';
import type { Projection } from './projection.js';
import { first, qb, run } from './query.js';

/** Content known to be on disk, by its address. */
export interface BlobsTable {
  sha256: string;
  size: number;
  stored_at: string;
}

/** Which (user, vault) may read which content: access is by reference, never by hash alone. */
export interface BlobRefsTable {
  user_id: string;
  vault_id: string;
  sha256: string;
  size: number;
  created_at: string;
}

export const blobsProjection: Projection = {
  name: 'blobs',
  version: 2,
  tables: ['blobs', 'blob_refs', ...BLOB_COUNTER_TABLES],
  handles: ['BlobStored', 'BlobReferenced', 'UserDeleted'],
  init(db) {
    // WITHOUT ROWID clusters a vault's references on its primary-key prefix, so the vault
    // sum reads contiguous rows; the user index covers the per-user distinct-content sum.
    db.exec(`
      CREATE TABLE IF NOT EXISTS blobs (
        sha256 TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        stored_at TEXT NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS blob_refs (
        user_id TEXT NOT NULL,
        vault_id TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (user_id, vault_id, sha256)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS blob_refs_user ON blob_refs (user_id, sha256, size);
    `);
    db.exec(BLOB_COUNTERS_DDL);
  },
  apply(db, event) {
    switch (event.type) {
      case 'BlobStored': {
        const row = { sha256: event.data.sha256, size: event.data.size, stored_at: event.at };
        run(
          db,
          qb
            .insertInto('blobs')
            .values(row)
            .onConflict((oc) => oc.column('sha256').doNothing()),
        );
        return;
      }
      // The event names the contents no one else referenced when it was decided: replay
      // drops exactly those, whatever its redacted references left in the tables.
      case 'UserDeleted':
        run(db, qb.deleteFrom('blob_refs').where('user_id', '=', event.data.userId));
        for (const sha256 of event.data.blobs) {
          run(db, qb.deleteFrom('blobs').where('sha256', '=', sha256));
        }
        return;
      case 'BlobReferenced': {
        const d = event.data;
        const row = {
          user_id: d.userId,
          vault_id: d.vaultId,
          sha256: d.sha256,
          size: d.size,
          created_at: event.at,
        };
        run(
          db,
          qb
            .insertInto('blob_refs')
            .values(row)
            .onConflict((oc) => oc.columns(['user_id', 'vault_id', 'sha256']).doNothing()),
        );
        return;
      }
      default:
        return;
    }
  },
};

/** The push route's check of a `file` op's blob (CONTRACT.md §5.6). */
export const findBlobReference = (
  db: Sqlite,
  userId: string,
  vaultId: string,
  sha256: string,
): { size: number } | undefined =>
  first(
    db,
    qb
      .selectFrom('blob_refs')
      .select('size')
      .where('user_id', '=', userId)
      .where('vault_id', '=', vaultId)
      .where('sha256', '=', sha256),
  );

/** Whether any vault of the user references this content (it is then free for the user quota). */
export const findUserBlobReference = (
  db: Sqlite,
  userId: string,
  sha256: string,
): { size: number } | undefined =>
  first(
    db,
    qb
      .selectFrom('blob_refs')
      .select('size')
      .where('user_id', '=', userId)
      .where('sha256', '=', sha256)
      .limit(1),
  );

export const findStoredBlob = (db: Sqlite, sha256: string) =>
  first(db, qb.selectFrom('blobs').selectAll().where('sha256', '=', sha256));

/** Bytes charged to a (user, vault): each referenced content once. */
export const vaultBlobBytes = (db: Sqlite, userId: string, vaultId: string): number =>
  first(
    db,
    qb
      .selectFrom('blob_refs')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('size'), eb.lit(0)).as('total'))
      .where('user_id', '=', userId)
      .where('vault_id', '=', vaultId),
  )?.total ?? 0;

/** Bytes charged to a user: each distinct content once, however many vaults reference it. */
export const userBlobBytes = (db: Sqlite, userId: string): number =>
  first(
    db,
    qb
      .selectFrom((eb) =>
        eb
          .selectFrom('blob_refs')
          .select(['sha256', (inner) => inner.fn.max('size').as('size')])
          .where('user_id', '=', userId)
          .groupBy('sha256')
          .as('distinct_blobs'),
      )
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('size'), eb.lit(0)).as('total')),
  )?.total ?? 0;

/**
 * Whether the log knows this content at all: stored or referenced by any (user, vault). A
 * file that is neither is left over (a crash or a failed record between placing and
 * recording it) and retention may remove it.
 */
export const isBlobKnown = (db: Sqlite, sha256: string): boolean =>
  first(db, qb.selectFrom('blobs').select('sha256').where('sha256', '=', sha256)) !== undefined ||
  first(db, qb.selectFrom('blob_refs').select('sha256').where('sha256', '=', sha256).limit(1)) !==
    undefined;
