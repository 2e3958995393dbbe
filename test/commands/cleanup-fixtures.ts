import { createHash } from 'node:crypto';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inWriteTransaction, vaultStream, type DomainEvent } from '../../src/log/index.js';
import type { Runtime } from '../../src/runtime.js';

const HOUR = 3_600_000;

export const sha256Of = (content: string) => createHash('sha256').update(content).digest('hex');

/** Appends and projects in one transaction, as the command handler does, at a chosen time. */
export function record(rt: Runtime, stream: string, events: DomainEvent[], at: Date): void {
  inWriteTransaction(rt.db, () =>
    rt.projector.apply(rt.store.append([{ stream, events }], { actor: 'test' }, at)),
  );
}

const ago = (now: Date, hours: number) => new Date(now.getTime() - hours * HOUR);
const iso = (now: Date, hours: number) => ago(now, hours).toISOString();

/** A file with a chosen mtime: retention judges files by age. */
export function writeFileAged(path: string, content: string, modifiedAt: Date): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  utimesSync(path, modifiedAt, modifiedAt);
}

export const blobPath = (dataDir: string, sha256: string) =>
  join(dataDir, 'blobs', sha256.slice(0, 2), sha256.slice(2, 4), sha256);

/**
 * One of each thing retention looks at, expired and not, as of `now`:
 * - sessions `s-expired` (ended an hour ago) and `s-live`;
 * - e-mail tokens `t-old` (expired 25 h ago), `t-recent` (expired an hour ago, still
 *   counted by the reset-mail budget) and `t-live`;
 * - push answers `k-old` (25 h old) and `k-fresh` (an hour old);
 * - temp uploads `old` (25 h) and `new` (1 h), and an old non-upload file in tmp;
 * - content files: `orphan` (2 h old, unknown to the log), `fresh` (unknown, 10 min old),
 *   `referenced` (old, stored and referenced) and a quarantined copy.
 */
export function seedRetention(rt: Runtime, now: Date) {
  const user = 'u1';
  const userStream = `user/${user}`;
  record(
    rt,
    vaultStream(user, 'v1'),
    [
      {
        type: 'PushAnswered',
        data: {
          userId: user,
          vaultId: 'v1',
          idempotencyKey: 'k-old',
          requestDigest: 'd',
          response: '{}',
        },
      },
    ],
    ago(now, 25),
  );
  record(
    rt,
    userStream,
    [
      {
        type: 'EmailConfirmationRequested',
        data: { userId: user, tokenHash: 't-old', expiresAt: iso(now, 25) },
      },
      {
        type: 'PasswordResetRequested',
        data: { userId: user, tokenHash: 't-recent', expiresAt: iso(now, 1) },
      },
      {
        type: 'UserLoggedIn',
        data: { userId: user, sessionHash: 's-expired', expiresAt: iso(now, 1) },
      },
      {
        type: 'UserLoggedIn',
        data: { userId: user, sessionHash: 's-live', expiresAt: iso(now, -1) },
      },
      {
        type: 'EmailConfirmationRequested',
        data: { userId: user, tokenHash: 't-live', expiresAt: iso(now, -1) },
      },
    ],
    ago(now, 2),
  );
  record(
    rt,
    vaultStream(user, 'v1'),
    [
      {
        type: 'PushAnswered',
        data: {
          userId: user,
          vaultId: 'v1',
          idempotencyKey: 'k-fresh',
          requestDigest: 'd',
          response: '{}',
        },
      },
    ],
    ago(now, 1),
  );
  const referenced = sha256Of('referenced');
  record(
    rt,
    `blob/${referenced}`,
    [
      { type: 'BlobStored', data: { sha256: referenced, size: 10 } },
      {
        type: 'BlobReferenced',
        data: { sha256: referenced, size: 10, userId: user, vaultId: 'v1', deviceId: 'd1' },
      },
    ],
    ago(now, 1),
  );
  const dir = rt.dataDir;
  const files = {
    tempOld: join(dir, 'tmp', `blob-${process.pid}-old`),
    tempNew: join(dir, 'tmp', `blob-${process.pid}-new`),
    scratch: join(dir, 'tmp', 'replay-scratch.db'),
    orphan: blobPath(dir, sha256Of('orphan')),
    fresh: blobPath(dir, sha256Of('fresh')),
    referenced: blobPath(dir, referenced),
    quarantined: `${blobPath(dir, sha256Of('damaged'))}.damaged-1`,
  };
  writeFileAged(files.tempOld, 'old upload', ago(now, 25));
  writeFileAged(files.tempNew, 'new', ago(now, 1));
  writeFileAged(files.scratch, 'not an upload', ago(now, 48));
  writeFileAged(files.orphan, 'orphan', ago(now, 2));
  writeFileAged(files.fresh, 'fresh', ago(now, 1 / 6));
  writeFileAged(files.referenced, 'referenced', ago(now, 48));
  writeFileAged(files.quarantined, 'damaged', ago(now, 48));
  return files;
}
