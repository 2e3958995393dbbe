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
