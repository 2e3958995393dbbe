import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openRuntime } from '../../src/runtime.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('users projection v5 (username_skeleton)', () => {
  it('rebuilds a users table from before the column on the first start', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'verstak-skeleton-')), 'data');
    dirs.push(join(dataDir, '..'));
    const first = openRuntime({ dataDir });
    try {
      for (const username of ['alice', 'Bob']) {
        await first.users.register(
          { username, email: `${username}@example.test`, password: 'correct horse battery' },
          'operator',
          { actor: 'test' },
        );
      }
    } finally {
      first.close();
    }
    // The table as version 4 left it: no column, its checkpoint at 4.
    const raw = new Database(join(dataDir, 'server.db'));
    raw.exec(`DROP INDEX users_username_skeleton;
      ALTER TABLE users DROP COLUMN username_skeleton;
      UPDATE projection_checkpoints SET version = 4 WHERE name = 'users';`);
    raw.close();

    const again = openRuntime({ dataDir });
    try {
      expect(
        again.db.prepare('SELECT username, username_skeleton FROM users ORDER BY username').all(),
      ).toEqual([
        { username: 'Bob', username_skeleton: 'bob' },
        { username: 'alice', username_skeleton: 'alice' },
      ]);
      const plan = again.db
        .prepare("EXPLAIN QUERY PLAN SELECT id FROM users WHERE username_skeleton = 'alice'")
        .all() as { detail: string }[];
      expect(plan.map((p) => p.detail).join()).toContain('users_username_skeleton');
    } finally {
      again.close();
    }
  });
});
