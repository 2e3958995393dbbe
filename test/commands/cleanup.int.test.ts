import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createFileBlobStore } from '../../src/blobs/blob-store.js';
import { createFileSweep } from '../../src/blobs/file-sweep.js';
import { CATALOGUE } from '../../src/log/index.js';
import { replayProjections } from '../../src/projections/rebuild.js';
import { useRuntimes, type TestRuntime } from '../helpers/runtime.js';
import { blobPath, seedRetention, sha256Of, writeFileAged } from './cleanup-fixtures.js';

const openRuntime = useRuntimes();

const column = (rt: TestRuntime, sql: string) =>
  (rt.db.prepare(sql).pluck().all() as string[]).sort();

const rows = (rt: TestRuntime) => ({
  sessions: column(rt, 'SELECT session_hash FROM sessions'),
  emailTokens: column(rt, 'SELECT token_hash FROM email_tokens'),
  pushAnswers: column(rt, 'SELECT idempotency_key FROM push_answers'),
});

const ALL_ROWS = {
  sessions: ['s-expired', 's-live'],
  emailTokens: ['t-live', 't-old', 't-recent'],
  pushAnswers: ['k-fresh', 'k-old'],
};

const EXPECTED_COUNTS = {
  sessions: 1,
  emailTokens: 1,
  pushAnswers: 1,
  tempUploads: { count: 1, bytes: 'old upload'.length },
  blobFiles: { count: 1, bytes: 'orphan'.length },
};

function seeded() {
  const rt = openRuntime({ onDisk: true });
  const now = rt.clock.now();
  return { rt, now, files: seedRetention(rt, now) };
}

describe('cleanup run', () => {
  it('removes what expired and keeps what is live, referenced or too recent', async () => {
    const { rt, now, files } = seeded();
    const report = await rt.cleanup.run(now);
    expect(report).toMatchObject({ ...EXPECTED_COUNTS, dryRun: false, at: now.toISOString() });
    expect(rows(rt)).toEqual({
      sessions: ['s-live'],
      emailTokens: ['t-live', 't-recent'],
      pushAnswers: ['k-fresh'],
    });
    expect(existsSync(files.tempOld)).toBe(false);
    expect(existsSync(files.orphan)).toBe(false);
    for (const kept of [files.tempNew, files.scratch, files.fresh, files.referenced]) {
      expect(existsSync(kept), kept).toBe(true);
    }
    expect(existsSync(files.quarantined)).toBe(true);
    expect(readFileSync(files.referenced, 'utf8')).toBe('referenced');
  });

  it('records the cutoffs and what it removed as CleanupRan on the server stream', async () => {
    const { rt, now } = seeded();
    const report = await rt.cleanup.run(now, { actor: 'admin:a1' });
    const event = rt.store.readStream('server').at(-1)!;
    expect(event.seq).toBe(report.seq);
    expect(event.seq).toBe(rt.store.head());
    expect(event.meta).toEqual({ actor: 'admin:a1' });
    expect(event).toMatchObject({
      type: 'CleanupRan',
      data: {
        sessionsExpiredBefore: now.toISOString(),
        emailTokensExpiredBefore: new Date(now.getTime() - 24 * 3_600_000).toISOString(),
        pushAnswersBefore: new Date(now.getTime() - 24 * 3_600_000).toISOString(),
        sessions: 1,
        emailTokens: 1,
        pushAnswers: 1,
        tempUploads: 1,
        tempUploadBytes: 'old upload'.length,
        blobFiles: 1,
        blobFileBytes: 'orphan'.length,
      },
    });
  });

  it('appends nothing when nothing expired', async () => {
    const { rt, now } = seeded();
    await rt.cleanup.run(now);
    const head = rt.store.head();
    const again = await rt.cleanup.run(now);
    expect(again.seq).toBeUndefined();
    expect(rt.store.head()).toBe(head);
  });

  it('leaves projections that a replay of the log rebuilds row for row', async () => {
    const { rt, now } = seeded();
    await rt.cleanup.run(now);
    const scratchDir = join(rt.dataDir, 'tmp');
    const check = replayProjections(rt, { scratchDir, check: true, catalogue: CATALOGUE });
    expect(check.diffs).toEqual([]);
    replayProjections(rt, { scratchDir, check: false, catalogue: CATALOGUE });
    expect(rows(rt)).toEqual({
      sessions: ['s-live'],
      emailTokens: ['t-live', 't-recent'],
      pushAnswers: ['k-fresh'],
    });
  });
});

describe('cleanup plan (dry run)', () => {
  it('counts what a run would remove and changes nothing', async () => {
    const { rt, now, files } = seeded();
    const head = rt.store.head();
    const report = await rt.cleanup.plan(now);
    expect(report).toMatchObject({ ...EXPECTED_COUNTS, dryRun: true });
    expect(report.seq).toBeUndefined();
    expect(rt.store.head()).toBe(head);
    expect(rows(rt)).toEqual(ALL_ROWS);
    for (const file of Object.values(files)) expect(existsSync(file), file).toBe(true);
    expect(await rt.cleanup.run(now)).toMatchObject(EXPECTED_COUNTS);
  });
});

describe('content files and concurrent uploads', () => {
  it('keeps an old unknown file that an upload of the same content has just touched', async () => {
    const rt = openRuntime();
    rt.clock.set(new Date());
    const now = rt.clock.now();
    const sha = sha256Of('again');
    writeFileAged(blobPath(rt.dataDir, sha), 'again', new Date(now.getTime() - 48 * 3_600_000));
    const store = createFileBlobStore(rt.dataDir);
    const temp = await store.writeTemp(Readable.from([Buffer.from('again')]), 100);
    // Placed but not yet recorded: what an upload looks like between its two steps.
    expect(await store.commit(temp)).toBe('existing');
    expect((await rt.cleanup.run(now)).blobFiles.count).toBe(0);
    expect(readFileSync(blobPath(rt.dataDir, sha), 'utf8')).toBe('again');
  });

  it('puts a file back when it is recorded while being removed', async () => {
    const rt = openRuntime();
    const sha = sha256Of('late');
    const path = blobPath(rt.dataDir, sha);
    writeFileAged(path, 'late', new Date(Date.now() - 48 * 3_600_000));
    const sweep = createFileSweep(rt.dataDir);
    expect(await sweep.removeBlobFile(sha, Date.now() - 3_600_000, () => true)).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe('late');
    expect(await sweep.removeBlobFile(sha, Date.now() - 3_600_000, () => false)).toBe(4);
    expect(existsSync(path)).toBe(false);
  });
});
