import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRuntime } from '../../src/runtime.js';

const dataDir = mkdtempSync(join(tmpdir(), 'vss-prof-'));
const rt = openRuntime({ dataDir });
if (process.env.SYNC_OFF) rt.db.pragma('synchronous=OFF');
await rt.users.register({ username: 'b', email: 'b@x.io', password: 'password123', confirmed: true }, 'operator', { actor: 'x' });
const d = await rt.devices.pair({ login: 'b', password: 'password123', deviceName: 'd', clientVersion: 'v', vaultId: 'v', via: 'pair' }, { actor: 'x' });
const scope = { userId: d.userId, vaultId: 'v', deviceId: d.deviceId };
const filler = 'x'.repeat(160);
let t = (process.cpuUsage().user / 1000);
let n = 0;
for (let b = 0; b < 100; b++) {
  const ops = [];
  for (let i = 0; i < 100; i++, n++) ops.push({ op_id: `op-${n}`, entity_type: 'file', entity_id: `n/${n % 500}.md`, op_type: 'update', payload_json: JSON.stringify({ p: n, c: filler }), created_at: 'x', client_sequence: n, last_seen_server_seq: 0 });
  await rt.sync.push(scope, { idempotencyKey: '', ops }, { actor: 'd' });
}
console.log('push ops/s', Math.round(n / (((process.cpuUsage().user / 1000) - t) / 1000)));
t = (process.cpuUsage().user / 1000);
let cursor = 0, pulled = 0;
for (;;) {
  const page = JSON.parse(rt.sync.pull(scope, cursor, 100));
  pulled += page.ops.length; cursor = page.page_last_sequence;
  if (!page.has_more) break;
}
console.log('pull ops/s', Math.round(pulled / (((process.cpuUsage().user / 1000) - t) / 1000)));
rt.close();
