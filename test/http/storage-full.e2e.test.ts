import { afterEach, beforeEach, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import {
  addUser,
  pair,
  pull,
  pullAll,
  push,
  startTestServer,
  textOp,
  type Device,
  type TestServer,
} from '../helpers/sync-app.js';

let server: TestServer;
let device: Device;
beforeEach(async () => {
  server = await startTestServer();
  await addUser(server, 'alice');
  device = await pair(server, 'alice', 'vault-1');
});
afterEach(async () => server.close());

// RELIABILITY.md R6 at unit level: max_page_count makes SQLite report SQLITE_FULL.
it('answers 507 storage_full when the database is full, loses no batch, and recovers', async () => {
  const db = server.runtime.db;
  const pages = db.pragma('page_count', { simple: true }) as number;
  db.pragma(`max_page_count = ${pages + 8}`);
  const filler = 'x'.repeat(2000);
  const acknowledged: string[] = [];
  let full = false;
  for (let batch = 0; batch < 200 && !full; batch++) {
    const ops = Array.from({ length: 10 }, (_, i) =>
      textOp(`b${batch}-${i}`, `n/${batch}/${i}`, filler),
    );
    const res = await push(server, device, ops);
    if (res.statusCode === 200) {
      acknowledged.push(...ops.map((o) => o.op_id));
    } else {
      expect(res.statusCode).toBe(507);
      expect(res.json()).toEqual({ error: 'server storage is full', code: 'storage_full' });
      full = true;
    }
  }
  expect(full).toBe(true);
  db.pragma('max_page_count = 1073741823');
  const after = await push(server, device, [textOp('after-full', 'n/after', 'ok')]);
  expect(after.statusCode).toBe(200);
  const pulled = (await pullAll(server, device)).ops.map((o) => o.op_id);
  // Every acknowledged batch is there whole, the refused one not at all.
  expect(pulled).toEqual([...acknowledged, 'after-full']);
});

// Issue 12: bookkeeping outside the log (last_seen) must never fail a read.
it('serves a pull whose last_seen write the database refuses', async () => {
  const clock = createManualClock('2026-12-04T10:00:00.000Z');
  const own = await startTestServer({ clock });
  try {
    await addUser(own, 'bob');
    const reader = await pair(own, 'bob', 'vault-b');
    await pullAll(own, reader);
    const writer = await pair(own, 'bob', 'vault-b');
    await push(own, writer, [textOp('b-1', 'b.md', 'hello')]);
    // A minute on, the reader's next request is due a last_seen write, which fails.
    clock.advance(61_000);
    own.runtime.db.pragma('query_only = ON');
    expect(own.runtime.db.pragma('query_only', { simple: true })).toBe(1);
    const res = await pull(own, reader, 0);
    own.runtime.db.pragma('query_only = OFF');
    expect(res.statusCode).toBe(200);
    expect(res.json<{ ops: { op_id: string }[] }>().ops.map((o) => o.op_id)).toEqual(['b-1']);
  } finally {
    await own.close();
  }
});
