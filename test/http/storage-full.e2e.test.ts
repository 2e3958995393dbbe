import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  addUser,
  pair,
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
