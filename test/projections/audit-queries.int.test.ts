import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { SEVERITY } from '../../src/projections/audit-index.js';
import { auditPage, type AuditPageQuery } from '../../src/projections/audit-queries.js';
import { testHasher } from '../helpers/runtime.js';
import {
  addUser,
  pair,
  push,
  pushAccepted,
  startTestServer,
  textOp,
  type TestServer,
} from '../helpers/sync-app.js';

// Every filter combination of /admin/audit reads through an index, newest first: no
// statement it runs scans the events table (1M+ rows) or sorts what it matched.

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function seeded() {
  const clock = createManualClock('2026-12-01T10:00:00.000Z');
  server = await startTestServer({ clock, hasher: testHasher });
  const alice = await addUser(server, 'alice');
  await addUser(server, 'bob');
  const laptop = await pair(server, 'alice', 'vault-a', 'laptop');
  const phone = await pair(server, 'alice', 'vault-b', 'phone');
  for (let i = 0; i < 5; i++) {
    clock.advance(3_600_000);
    await pushAccepted(server, laptop, [textOp(`op-a${i}`, `a${i}.md`, 'text')]);
    await push(server, phone, [textOp(`op-b${i}`, `b${i}.md`, 'text')], {
      idempotency_key: `key-${i}`,
    });
  }
  server.runtime.users.setBlocked(alice, true, { actor: 'cli' });
  return { server, alice, laptop };
}

/** The statements auditPage runs, as SQLite expanded them, from a connection of our own. */
function traced(file: string, query: AuditPageQuery) {
  const statements: string[] = [];
  const db = new Database(file, { readonly: true, verbose: (sql) => statements.push(String(sql)) });
  try {
    const page = auditPage(db, query);
    const plans = statements.map((sql) => ({
      sql,
      plan: (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map(
        (r) => r.detail,
      ),
    }));
    return { page, plans };
  } finally {
    db.close();
  }
}

describe('the audit queries', () => {
  it('use an index for every filter combination', async () => {
    const { server, alice, laptop } = await seeded();
    const file = join(server.dir, 'server.db');
    const head = server.runtime.store.head();
    const types = [undefined, 'DevicePaired', 'UserBlocked', 'OperationPushed', 'PushAnswered'];
    let combinations = 0;
    for (const type of types)
      for (const userId of [undefined, alice])
        for (const deviceId of [undefined, laptop.deviceId])
          for (const severity of [undefined, SEVERITY.warning])
            for (const range of [false, true])
              for (const before of [undefined, head - 3]) {
                const query: AuditPageQuery = {
                  type,
                  userId,
                  deviceId,
                  severity,
                  ...(range
                    ? { since: '2026-12-01T11:00:00.000Z', until: '2026-12-01T14:00:00.000Z' }
                    : {}),
                  before,
                  limit: 5,
                };
                const { plans } = traced(file, query);
                expect(plans.length).toBeGreaterThan(0);
                for (const { sql, plan } of plans) {
                  const label = `${JSON.stringify(query)}\n${sql}\n${plan.join('\n')}`;
                  expect(
                    plan.filter((d) => /^SCAN /.test(d)),
                    label,
                  ).toEqual([]);
                  expect(
                    plan.filter((d) => d.includes('TEMP B-TREE')),
                    label,
                  ).toEqual([]);
                }
                combinations += 1;
              }
    expect(combinations).toBe(160);
  });

  it('reads each filter through its own index', async () => {
    const { server, alice, laptop } = await seeded();
    const file = join(server.dir, 'server.db');
    const planOf = (query: Partial<AuditPageQuery>) =>
      traced(file, { limit: 5, ...query })
        .plans.flatMap((p) => p.plan)
        .join('\n');
    expect(planOf({})).toMatch(/SEARCH a USING INTEGER PRIMARY KEY/);
    expect(planOf({ userId: alice })).toMatch(/USING (COVERING )?INDEX audit_index_user /);
    expect(planOf({ deviceId: laptop.deviceId })).toMatch(
      /USING (COVERING )?INDEX audit_index_device /,
    );
    expect(planOf({ type: 'DevicePaired' })).toMatch(/USING (COVERING )?INDEX audit_index_type /);
    expect(planOf({ severity: SEVERITY.warning })).toMatch(
      /USING (COVERING )?INDEX audit_index_severity /,
    );
    expect(planOf({ type: 'OperationPushed', userId: alice })).toMatch(
      /SEARCH e USING INDEX log_events_stream \(stream=\? AND seq>\? AND seq<\?\)/,
    );
  });

  it('pages sync traffic by user, device or type alone, each event once', async () => {
    const { server, alice, laptop } = await seeded();
    const db = server.runtime.db;
    const all = (type: string, where = '1') =>
      (
        db
          .prepare(`SELECT seq FROM events WHERE type = ? AND ${where} ORDER BY seq DESC`)
          .all(type) as { seq: number }[]
      ).map((r) => r.seq);
    const walk = (query: Omit<AuditPageQuery, 'limit' | 'before'>) => {
      const seen: number[] = [];
      let before: number | undefined;
      for (let i = 0; i < 50; i++) {
        const page = auditPage(db, { ...query, before, limit: 2 });
        seen.push(...page.rows.map((r) => r.seq));
        if (page.older === undefined) return seen;
        before = page.older;
      }
      throw new Error('no end');
    };
    expect(walk({ type: 'OperationPushed', userId: alice })).toEqual(all('OperationPushed'));
    expect(walk({ type: 'OperationPushed', deviceId: laptop.deviceId })).toEqual(
      all('OperationPushed', `stream = 'vault/${alice}/vault-a'`),
    );
    expect(walk({ type: 'PushAnswered' })).toEqual(all('PushAnswered'));
    expect(all('PushAnswered').length).toBe(5);
  });
});
