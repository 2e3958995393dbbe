import { runSyncLoad } from './sync-load.js';
const r = await runSyncLoad('/work/main/build/bin/verstak-sync-server', { devices: 8, batch: 100, payloadBytes: 200, pushSeconds: 10 });
console.log(r);
