import { describe, expect, it } from 'vitest';
import { blobDecider, type BlobEvent, type StoreBlob } from '../../src/commands/blob.js';
import { AppError } from '../../src/errors.js';

const SHA = 'ab'.repeat(32);
const QUOTA = { maxVaultBytes: 1000, maxUserBytes: 1500 };

const store = (userId: string, vaultId: string, usage = { vaultBytes: 0, userBytes: 0 }, size = 100): StoreBlob => ({
  type: 'StoreBlob',
  data: { sha256: SHA, size, userId, vaultId, deviceId: `dev_${userId}` },
  usage,
  quota: QUOTA,
});

const stored: BlobEvent = { type: 'BlobStored', data: { sha256: SHA, size: 100 } };
const referenced = (userId: string, vaultId: string): BlobEvent => ({
  type: 'BlobReferenced',
  data: { sha256: SHA, size: 100, userId, vaultId, deviceId: `dev_${userId}` },
});

function given(events: BlobEvent[]) {
  const state = events.reduce((s, e) => blobDecider.evolve(s, e), blobDecider.initialState());
  return {
    when: (command: StoreBlob) => ({
      then: (expected: BlobEvent[]) => expect(blobDecider.decide(command, state)).toEqual(expected),
      thenThrows: (code: string) => {
        const run = () => blobDecider.decide(command, state);
        expect(run).toThrow(AppError);
        expect(run).toThrow(expect.objectContaining({ code }));
      },
    }),
  };
}

describe('an unknown content', () => {
  it('is stored and referenced by its first upload', () => {
    given([]).when(store('u1', 'v1')).then([stored, referenced('u1', 'v1')]);
  });

  it('rejects an upload past the vault quota', () => {
    given([]).when(store('u1', 'v1', { vaultBytes: 901, userBytes: 901 })).thenThrows('quota_exceeded');
  });

  it('rejects an upload past the user quota', () => {
    given([]).when(store('u1', 'v1', { vaultBytes: 0, userBytes: 1401 })).thenThrows('quota_exceeded');
  });

  it('accepts an upload that fills the quota exactly', () => {
    given([]).when(store('u1', 'v1', { vaultBytes: 900, userBytes: 900 })).then([stored, referenced('u1', 'v1')]);
  });
});

describe('a stored content', () => {
  it('is only referenced by another scope', () => {
    given([stored, referenced('u1', 'v1')]).when(store('u2', 'v1')).then([referenced('u2', 'v1')]);
  });

  it('changes nothing when the scope already references it, whatever the usage', () => {
    given([stored, referenced('u1', 'v1')])
      .when(store('u1', 'v1', { vaultBytes: 5000, userBytes: 5000 }))
      .then([]);
  });

  it('is free for the user quota in another vault of the same user', () => {
    given([stored, referenced('u1', 'v1')])
      .when(store('u1', 'v2', { vaultBytes: 0, userBytes: 1500 }))
      .then([referenced('u1', 'v2')]);
  });

  it('still charges the new vault', () => {
    given([stored, referenced('u1', 'v1')])
      .when(store('u1', 'v2', { vaultBytes: 901, userBytes: 0 }))
      .thenThrows('quota_exceeded');
  });

  it('refuses a size that contradicts the stored one', () => {
    expect(() => given([stored]).when(store('u1', 'v1', undefined, 99)).then([])).toThrow(/differs/);
  });
});
