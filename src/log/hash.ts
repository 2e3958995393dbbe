import { hash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export function sha256Hex(text: string | Buffer): string {
  // One-shot: no Hash object per call on the append path.
  return hash('sha256', text, 'hex');
}

export interface ChainedFields {
  readonly seq: number;
  readonly stream: string;
  readonly version: number;
  readonly type: string;
  readonly schemaVersion: number;
  readonly dataHash: string;
  readonly meta: string;
  readonly at: string;
}

/**
 * The chain covers the digest of `data`, not `data` itself, so a payload can later be
 * redacted (data replaced, data_hash kept) and the chain still verifies. The fields are
 * hashed as a JSON array so that no separator inside a stream name can shift them.
 */
export function chainHash(previousHash: string, e: ChainedFields): string {
  return sha256Hex(
    JSON.stringify([
      previousHash,
      e.seq,
      e.stream,
      e.version,
      e.type,
      e.schemaVersion,
      e.dataHash,
      e.meta,
      e.at,
    ]),
  );
}

/** A stored events row, as SQLite gives it: the chained fields under their column names. */
export interface StoredChainFields {
  readonly seq: number;
  readonly stream: string;
  readonly version: number;
  readonly type: string;
  readonly schema_version: number;
  readonly data_hash: string;
  readonly meta: string;
  readonly at: string;
}

/** The hash a stored row must carry after `previousHash` (verify and the start-up check). */
export const storedRowHash = (previousHash: string, row: StoredChainFields): string =>
  chainHash(previousHash, {
    seq: row.seq,
    stream: row.stream,
    version: row.version,
    type: row.type,
    schemaVersion: row.schema_version,
    dataHash: row.data_hash,
    meta: row.meta,
    at: row.at,
  });
