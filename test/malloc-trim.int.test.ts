import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createMallocTrim } from '../src/malloc-trim.js';

/** RssAnon of this process in MiB: the pages of its heaps, not of the binary and libraries. */
function anonMiB(): number {
  const kb = /RssAnon:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kb) / 1024;
}

const glibc =
  process.platform === 'linux' &&
  Boolean(
    (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
      ?.glibcVersionRuntime,
  );

describe('malloc_trim through SQLite', () => {
  it.runIf(glibc)('hands pages that malloc holds free back to the kernel', () => {
    const trim = createMallocTrim();
    expect(trim).toBeDefined();
    // SQLite's page cache is malloc'd a page at a time: 48 MiB of it in the main heap, then
    // a connection opened after it keeps the top of the heap in use, so closing the first
    // frees the pages below it, which glibc keeps (it gives back only its heap's top).
    const big = new Database(':memory:');
    big.pragma('cache_size = -65536');
    big.exec('CREATE TABLE t (v BLOB)');
    const insert = big.prepare('INSERT INTO t VALUES (randomblob(3000))');
    big.transaction(() => {
      for (let i = 0; i < 16_000; i++) insert.run();
    })();
    const pin = new Database(':memory:');
    pin.exec('CREATE TABLE p (v)');
    const filled = anonMiB();
    big.close();
    const freed = anonMiB();
    expect(filled - freed).toBeLessThan(16);
    trim!();
    expect(freed - anonMiB()).toBeGreaterThan(32);
    pin.close();
  });

  it.runIf(process.platform !== 'linux')('is not offered where there is no glibc', () => {
    expect(createMallocTrim()).toBeUndefined();
  });
});
