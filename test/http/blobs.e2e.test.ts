import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findBlobReference, userBlobBytes, vaultBlobBytes } from '../../src/projections/blobs.js';
import {
  bearer,
  download,
  logHead,
  openBlobWorld,
  sha256,
  storedFiles,
  tempFiles,
  upload,
  type BlobWorld,
} from './blob-fixtures.js';

let world: BlobWorld;

beforeEach(async () => {
  world = await openBlobWorld();
});

afterEach(async () => {
  await world.close();
});

describe('POST /api/v1/blobs/', () => {
  it('answers the digest and length of the uploaded bytes and records them', async () => {
    const content = randomBytes(70_000);
    const head = logHead(world);
    const res = await upload(world, world.alice, content);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ sha256: sha256(content), size: content.length });
    expect(storedFiles(world)).toEqual([
      `${sha256(content).slice(0, 2)}/${sha256(content).slice(2, 4)}/${sha256(content)}`,
    ]);
    expect(tempFiles(world)).toEqual([]);
    const events = world.runtime.store.readRange(head, 10);
    expect(events.map((e) => [e.type, e.stream, e.meta.actor])).toEqual([
      ['BlobStored', `blob/${sha256(content)}`, `device:${world.alice.deviceId}`],
      ['BlobReferenced', `blob/${sha256(content)}`, `device:${world.alice.deviceId}`],
    ]);
    expect(events[1]!.data).toEqual({
      sha256: sha256(content),
      size: content.length,
      userId: world.alice.userId,
      vaultId: 'vault-a',
      deviceId: world.alice.deviceId,
    });
  });

  it('answers a re-upload the same way, with one reference, one file and one charge', async () => {
    const content = randomBytes(1000);
    const first = await upload(world, world.alice, content);
    const head = logHead(world);
    const again = await upload(world, world.aliceSecond, content);
    expect(again.statusCode).toBe(200);
    expect(again.body).toBe(first.body);
    expect(logHead(world)).toBe(head);
    expect(storedFiles(world)).toHaveLength(1);
    expect(vaultBlobBytes(world.runtime.db, world.alice.userId, 'vault-a')).toBe(1000);
    expect(userBlobBytes(world.runtime.db, world.alice.userId)).toBe(1000);
  });

  it('stores an empty file', async () => {
    const res = await upload(world, world.alice, Buffer.alloc(0));
    expect(res.json()).toEqual({ sha256: sha256(Buffer.alloc(0)), size: 0 });
    expect((await download(world, world.alice, sha256(Buffer.alloc(0)))).rawPayload.length).toBe(0);
  });
});

describe('GET /api/v1/blobs/:sha256', () => {
  it('streams the bytes with the contract headers', async () => {
    const content = randomBytes(200_000);
    await upload(world, world.alice, content);
    const res = await download(world, world.aliceSecond, sha256(content));
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(content)).toBe(true);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-length']).toBe(String(content.length));
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${sha256(content)}"`);
    expect(res.headers['content-security-policy']).toMatch(/(^|;\s*)sandbox(\s*;|$)/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('honours one byte range', async () => {
    const content = randomBytes(1000);
    await upload(world, world.alice, content);
    const cases: [string, number, number][] = [
      ['bytes=10-19', 10, 19],
      ['bytes=990-', 990, 999],
      ['bytes=-5', 995, 999],
      ['bytes=900-5000', 900, 999],
    ];
    for (const [range, start, end] of cases) {
      const res = await download(world, world.alice, sha256(content), { range });
      expect(res.statusCode, range).toBe(206);
      expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/1000`);
      expect(res.headers['content-length']).toBe(String(end - start + 1));
      expect(res.rawPayload.equals(content.subarray(start, end + 1))).toBe(true);
    }
  });

  it('refuses unsatisfiable, malformed and multiple ranges with 416', async () => {
    const content = randomBytes(1000);
    await upload(world, world.alice, content);
    for (const range of [
      'bytes=1000-',
      'bytes=5-3',
      'bytes=-0',
      'bytes=0-1,5-6',
      'bytes=x-y',
      'bytes=',
    ]) {
      const res = await download(world, world.alice, sha256(content), { range });
      expect(res.statusCode, range).toBe(416);
      expect(res.headers['content-range']).toBe('bytes */1000');
      expect(res.json().code).toBe('range_not_satisfiable');
    }
  });

  it('ignores ranges in other units', async () => {
    const content = randomBytes(100);
    await upload(world, world.alice, content);
    const res = await download(world, world.alice, sha256(content), { range: 'items=0-1' });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(content)).toBe(true);
  });

  it('answers HEAD with the length and no body', async () => {
    const content = randomBytes(4321);
    await upload(world, world.alice, content);
    const res = await world.app.inject({
      method: 'HEAD',
      url: `/api/v1/blobs/${sha256(content)}`,
      headers: bearer(world.alice),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe('4321');
    expect(res.rawPayload.length).toBe(0);
  });
});

describe('scoping', () => {
  it('hides a blob from another user and another vault until they upload it themselves', async () => {
    const content = randomBytes(5000);
    await upload(world, world.alice, content);
    for (const stranger of [world.bob, world.aliceOtherVault]) {
      const res = await download(world, stranger, sha256(content));
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('blob_not_found');
    }
    for (const stranger of [world.bob, world.aliceOtherVault]) {
      const head = logHead(world);
      const res = await upload(world, stranger, content);
      expect(res.json()).toEqual({ sha256: sha256(content), size: 5000 });
      expect(world.runtime.store.readRange(head, 10).map((e) => e.type)).toEqual([
        'BlobReferenced',
      ]);
      const fetched = await download(world, stranger, sha256(content));
      expect(fetched.statusCode).toBe(200);
      expect(fetched.rawPayload.equals(content)).toBe(true);
    }
    expect(storedFiles(world)).toHaveLength(1);
    expect(
      findBlobReference(world.runtime.db, world.bob.userId, 'vault-a', sha256(content)),
    ).toEqual({
      size: 5000,
    });
  });

  it('stores the same content once when several scopes upload it at the same time', async () => {
    const content = randomBytes(20_000);
    const head = logHead(world);
    const devices = [world.alice, world.aliceSecond, world.aliceOtherVault, world.bob];
    const answers = await Promise.all(devices.map((device) => upload(world, device, content)));
    for (const answer of answers)
      expect(answer.json()).toEqual({ sha256: sha256(content), size: 20_000 });
    const types = world.runtime.store.readRange(head, 10).map((e) => e.type);
    expect(types.sort()).toEqual([
      'BlobReferenced',
      'BlobReferenced',
      'BlobReferenced',
      'BlobStored',
    ]);
    expect(storedFiles(world)).toHaveLength(1);
    expect(tempFiles(world)).toEqual([]);
  });

  it('answers 404 for a well-formed digest nobody uploaded', async () => {
    const res = await download(world, world.alice, sha256(Buffer.from('never uploaded')));
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('blob_not_found');
  });

  it('refuses names that are not 64 lowercase hex digits, touching nothing', async () => {
    const content = randomBytes(64);
    const hash = sha256(content);
    await upload(world, world.alice, content);
    const names = [
      '',
      '../x',
      '%2e%2e%2f',
      '%2e%2e%2fserver.db',
      '..%5c',
      '..%5cserver.db',
      '%2fetc%2fpasswd',
      `${hash.slice(0, 63)}%00`,
      hash.toUpperCase(),
      hash.slice(0, 63),
      `${hash}0`,
      'g'.repeat(64),
      `${hash.slice(0, 62)}%EF%BC%A1`, // fullwidth A
      encodeURIComponent('а'.repeat(64)), // Cyrillic a
      `${hash}%2f`,
      `${hash}.`,
    ];
    for (const name of names) {
      const res = await download(world, world.alice, name);
      expect([400, 404], name).toContain(res.statusCode);
      const { code } = res.json<{ code: string }>();
      expect(code, name).toBe(res.statusCode === 400 ? 'invalid_blob_hash' : 'not_found');
    }
    expect(storedFiles(world)).toHaveLength(1);
  });
});

describe('the blobs projection', () => {
  it('rebuilds from the log to the same rows', async () => {
    for (const device of [world.alice, world.aliceOtherVault, world.bob, world.alice]) {
      await upload(world, device, randomBytes(100));
    }
    await upload(world, world.bob, randomBytes(7));
    const dump = () => ({
      blobs: world.runtime.db.prepare('SELECT * FROM blobs ORDER BY sha256').all(),
      refs: world.runtime.db
        .prepare('SELECT * FROM blob_refs ORDER BY user_id, vault_id, sha256')
        .all(),
    });
    const live = dump();
    world.runtime.projector.rebuildAll();
    expect(dump()).toEqual(live);
    expect(live.refs).toHaveLength(5);
  });
});
