import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRuntime } from '../../src/runtime.js';
import { createFeedReader } from '../../src/log/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'vss-prof-'));
const rt = openRuntime({ dataDir });
rt.db.pragma('synchronous=OFF');
await rt.users.register({ username: 'b', email: 'b@x.io', password: 'password123', confirmed: true }, 'operator', { actor: 'x' });
const d = await rt.devices.pair({ login: 'b', password: 'password123', deviceName: 'd', clientVersion: 'v', vaultId: 'v', via: 'pair' }, { actor: 'x' });
const scope = { userId: d.userId, vaultId: 'v', deviceId: d.deviceId };
const filler = 'x'.repeat(160);
let n = 0;
for (let b = 0; b < 200; b++) {
  const ops = [];
  for (let i = 0; i < 100; i++, n++) ops.push({ op_id: `op-${n}`, entity_type: 'file', entity_id: `n/${n % 500}.md`, op_type: 'update', payload_json: JSON.stringify({ p: n, c: filler }), created_at: 'x', client_sequence: n, last_seen_server_seq: 0 });
  await rt.sync.push(scope, { idempotencyKey: '', ops }, { actor: 'd' });
}
const feed = createFeedReader(rt.db);
const stream = `vault/${d.userId}/v`;
for (const size of [100, 1000]) {
  let t = performance.now(); let cursor = 0, pulled = 0;
  for (;;) { const rows = feed.page(stream, cursor, size); if (!rows.length) break; pulled += rows.length; cursor = rows[rows.length-1]!.seq; }
  console.log('feed only', size, Math.round(pulled / ((performance.now() - t) / 1000)));
  t = performance.now(); cursor = 0; pulled = 0;
  const raw = rt.db.prepare('SELECT seq, data FROM events WHERE stream = ? AND seq > ? AND type = \'OperationPushed\' ORDER BY seq LIMIT ?');
  for (;;) { const rows = raw.all(stream, cursor, size) as {seq:number}[]; if (!rows.length) break; pulled += rows.length; cursor = rows[rows.length-1]!.seq; }
  console.log('raw rows', size, Math.round(pulled / ((performance.now() - t) / 1000)));
  t = performance.now(); cursor = 0; pulled = 0;
  for (;;) { const s = rt.sync.pull(scope, cursor, size); const m = /"page_last_sequence":(\d+),"has_more":(\w+)/.exec(s)!; pulled += size; cursor = Number(m[1]); if (m[2] !== 'true') break; }
  console.log('service', size, Math.round(pulled / ((performance.now() - t) / 1000)));
}
rt.close();
