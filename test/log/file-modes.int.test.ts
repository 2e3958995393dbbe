import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/log/database.js';

// RELIABILITY.md: server.db and its WAL hold password hashes and session digests; no other
// account on the machine may read them, whatever umask the server was started with.

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('the database files', () => {
  it('are created 0600 under a permissive umask, the WAL and shm too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vss-modes-'));
    dirs.push(dir);
    const file = join(dir, 'server.db');
    const before = process.umask(0o000);
    try {
      const db = openDatabase(file);
      db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
      for (const path of [file, `${file}-wal`, `${file}-shm`]) expect(modeOf(path)).toBe(0o600);
      db.close();
    } finally {
      process.umask(before);
    }
  });

  it('are narrowed to 0600 when an older server left them readable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vss-modes-'));
    dirs.push(dir);
    const file = join(dir, 'server.db');
    openDatabase(file).close();
    writeFileSync(`${file}-wal`, '');
    for (const path of [file, `${file}-wal`]) {
      chmodSync(path, 0o644);
    }
    const db = openDatabase(file);
    expect(modeOf(file)).toBe(0o600);
    expect(modeOf(`${file}-wal`)).toBe(0o600);
    db.close();
  });

  it('are not created by a command that needs an existing database', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vss-modes-'));
    dirs.push(dir);
    expect(() => openDatabase(join(dir, 'server.db'), { mustExist: true })).toThrow();
  });
});
