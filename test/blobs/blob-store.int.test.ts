import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobTooLargeError, createFileBlobStore, type BlobStore } from '../../src/blobs/blob-store.js';
import { openRuntime } from '../../src/runtime.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A source delivering `bytes` in small chunks, as a socket would. */
const chunked = (bytes: Buffer, size = 1000) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
  );

let dataDir: string;
let store: BlobStore;

const tempFiles = () => readdirSync(join(dataDir, 'tmp'));
const finalPath = (hash: string) => join(dataDir, 'blobs', hash.slice(0, 2), hash.slice(2, 4), hash);

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'verstak-store-'));
  store = createFileBlobStore(dataDir);
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('writeTemp', () => {
  it('stages the bytes under tmp/ with their digest and length', async () => {
    const bytes = randomBytes(100_000);
    const temp = await store.writeTemp(chunked(bytes), 1_000_000);
    expect(temp).toMatchObject({ sha256: sha256(bytes), size: bytes.length });
    expect(temp.tempPath.startsWith(join(dataDir, 'tmp'))).toBe(true);
    expect(readFileSync(temp.tempPath).equals(bytes)).toBe(true);
  });

  it('accepts exactly the limit and refuses one byte more, leaving no staged file', async () => {
    const bytes = randomBytes(4096);
    await expect(store.writeTemp(chunked(bytes), 4096)).resolves.toMatchObject({ size: 4096 });
    const before = tempFiles().length;
    await expect(store.writeTemp(chunked(Buffer.concat([bytes, Buffer.from('x')])), 4096)).rejects.toBeInstanceOf(
      BlobTooLargeError,
    );
    expect(tempFiles()).toHaveLength(before);
  });

  it('removes the staged file when the source fails half-way', async () => {
    const failing = new Readable({
      read() {
        this.push(randomBytes(1000));
        this.destroy(new Error('connection lost'));
      },
    });
    await expect(store.writeTemp(failing, 1_000_000)).rejects.toThrow('connection lost');
    expect(tempFiles()).toEqual([]);
  });
});

describe('commit', () => {
  it('moves the staged file to blobs/ab/cd/<sha256>', async () => {
    const bytes = randomBytes(5000);
    const temp = await store.writeTemp(chunked(bytes), 10_000);
    expect(await store.commit(temp)).toBe('created');
    expect(readFileSync(finalPath(temp.sha256)).equals(bytes)).toBe(true);
    expect(tempFiles()).toEqual([]);
    expect(await store.has(temp.sha256)).toBe(true);
    expect(await store.size(temp.sha256)).toBe(5000);
  });

  it('keeps an intact existing copy and drops the new one', async () => {
    const bytes = randomBytes(5000);
    await store.commit(await store.writeTemp(chunked(bytes), 10_000));
    const inode = statSync(finalPath(sha256(bytes))).ino;
    const again = await store.writeTemp(chunked(bytes), 10_000);
    expect(await store.commit(again)).toBe('existing');
    expect(statSync(finalPath(again.sha256)).ino).toBe(inode);
    expect(tempFiles()).toEqual([]);
  });

  it('replaces a copy of the wrong size', async () => {
    const bytes = randomBytes(5000);
    await store.commit(await store.writeTemp(chunked(bytes), 10_000));
    writeFileSync(finalPath(sha256(bytes)), bytes.subarray(0, 100));
    expect(await store.commit(await store.writeTemp(chunked(bytes), 10_000))).toBe('replaced');
    expect(readFileSync(finalPath(sha256(bytes))).equals(bytes)).toBe(true);
  });
});

describe('open, delete and quarantine', () => {
  it('reads a stored blob whole or by range', async () => {
    const bytes = randomBytes(3000);
    const temp = await store.writeTemp(chunked(bytes), 10_000);
    await store.commit(temp);
    const whole = (await store.open(temp.sha256))!;
    expect(whole.size).toBe(3000);
    expect((await buffer(whole.read())).equals(bytes)).toBe(true);
    const part = (await store.open(temp.sha256))!;
    expect((await buffer(part.read({ start: 10, end: 19 }))).equals(bytes.subarray(10, 20))).toBe(true);
  });

  it('answers undefined for content it does not hold', async () => {
    const absent = sha256(Buffer.from('absent'));
    expect(await store.open(absent)).toBeUndefined();
    expect(await store.has(absent)).toBe(false);
    expect(await store.size(absent)).toBeUndefined();
  });

  it('deletes and quarantines by digest', async () => {
    const a = await store.writeTemp(chunked(randomBytes(10)), 100);
    const b = await store.writeTemp(chunked(randomBytes(10)), 100);
    await store.commit(a);
    await store.commit(b);
    await store.delete(a.sha256);
    expect(await store.has(a.sha256)).toBe(false);
    await store.quarantine(b.sha256);
    expect(await store.has(b.sha256)).toBe(false);
    const folder = join(dataDir, 'blobs', b.sha256.slice(0, 2), b.sha256.slice(2, 4));
    expect(readdirSync(folder).some((name) => name.startsWith(`${b.sha256}.damaged-`))).toBe(true);
  });

  it('refuses any name that is not a lowercase sha256', async () => {
    for (const name of ['../server.db', 'A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(63)}/`]) {
      await expect(store.has(name)).rejects.toThrow('not a sha256 digest');
      await expect(store.open(name)).rejects.toThrow('not a sha256 digest');
    }
  });
});

describe('leftover staged files', () => {
  const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid;

  it('are removed when the runtime opens, unless their writer still runs', () => {
    const tmp = join(dataDir, 'tmp');
    const dead = `blob-${deadPid()}-0123456789abcdef`;
    const live = `blob-${process.pid}-0123456789abcdef`;
    for (const name of [dead, live, 'blob-garbage', 'not-ours']) writeFileSync(join(tmp, name), 'x');
    const runtime = openRuntime({ dataDir, databaseFile: ':memory:' });
    runtime.close();
    expect(readdirSync(tmp).sort()).toEqual([live, 'not-ours'].sort());
    expect(existsSync(join(tmp, dead))).toBe(false);
  });
});
