import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stderrProgress } from '../../src/cli/progress.js';
import { openRuntime } from '../../src/runtime.js';
import { createHttpClient } from './http-client.js';
import { allowStreams, openStream, pairOneVaultEach, seedHasher } from './live-streams.js';
import { say, type BenchOptions, type Section, type SectionResult } from './section.js';
import { procStatusMiB, restingRssMiB } from './server-memory.js';
import { percentile } from './stats.js';
import { freePort, serverEnv } from './sync-load.js';

const OWN_BINARY = new URL('../../bin/verstak-sync-server', import.meta.url).pathname;
const PASSWORD = 'bench-password-123';
/** Issue 10's goals. */
const GOAL = { p99Ms: 5, kbPerConnection: 20 };
const REST_MS = 10_000;

interface Seeded {
  readonly dataDir: string;
  /** One device per vault, listening. */
  readonly idle: readonly string[];
  /** Two devices of one more vault: one pushes, the other listens or waits. */
  readonly pusher: string;
  readonly listener: string;
}

async function seed(idleDevices: number): Promise<Seeded> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vss-bench-live-'));
  const runtime = openRuntime({ dataDir, hasher: seedHasher });
  const pair = async (login: string, vaultId: string) =>
    (
      await runtime.devices.pair(
        {
          login,
          password: PASSWORD,
          deviceName: vaultId,
          clientVersion: 'bench',
          vaultId,
          via: 'pair',
        },
        { actor: 'bench' },
      )
    ).token;
  try {
    const idle = await pairOneVaultEach(runtime, idleDevices, 'bench', PASSWORD);
    await runtime.users.register(
      { username: 'measured', email: 'measured@example.test', password: PASSWORD, confirmed: true },
      'operator',
      { actor: 'bench' },
    );
    const pusher = await pair('measured', 'live');
    const listener = await pair('measured', 'live');
    return { dataDir, idle, pusher, listener };
  } finally {
    runtime.close();
  }
}

async function startServer(dataDir: string, connections: number) {
  allowStreams(dataDir, connections);
  const port = await freePort();
  const child = spawn(process.execPath, [OWN_BINARY, '--port', String(port), '--data', dataDir], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: serverEnv(),
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${baseUrl}/livez`)).ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { child, port, baseUrl };
}

const pushBody = (n: number) =>
  JSON.stringify({
    ops: [
      {
        op_id: `live-${n}`,
        entity_type: 'file',
        entity_id: `n${n}.md`,
        op_type: 'update',
        payload_json: JSON.stringify({ path: `n${n}.md`, content: `revision ${n}` }),
        created_at: '2026-12-04T10:00:00Z',
      },
    ],
  });

async function run(options: BenchOptions): Promise<SectionResult> {
  const idleCount = options.quick ? 200 : 1000;
  const rounds = options.quick ? 50 : 300;
  say(`live: seeding ${idleCount} devices, one vault each`);
  const seeded = await seed(idleCount);
  const server = await startServer(seeded.dataDir, idleCount);
  const client = createHttpClient(server.baseUrl, 4);
  const sockets: ClientRequest[] = [];
  try {
    const pid = server.child.pid;
    const before = await restingRssMiB(pid, REST_MS);
    say(`live: opening ${idleCount} idle event streams`);
    const progress = stderrProgress('opening streams');
    for (let i = 0; i < idleCount; i++) {
      sockets.push(await openStream(server.port, seeded.idle[i]!, () => {}));
      progress(i + 1, idleCount);
    }
    const after = await restingRssMiB(pid, REST_MS);

    // (a) push answer → head event at the listening peer. Only these pushes append to the
    // log, one event each, so the n-th head event the peer hears is the n-th push's.
    const heard: number[] = [];
    let lastHead = 0;
    let onHeard = () => {};
    sockets.push(
      await openStream(server.port, seeded.listener, (seq) => {
        heard.push(performance.now());
        lastHead = seq;
        onHeard();
      }),
    );
    const heardAt = (n: number) =>
      new Promise<number>((resolve) => {
        const check = () => {
          if (heard.length > n) resolve(heard[n]!);
        };
        onHeard = check;
        check();
        setTimeout(() => resolve(NaN), 5_000);
      });
    const sse: number[] = [];
    say(`live: ${rounds} pushes, each timed to the peer's head event`);
    for (let n = 0; n < rounds; n++) {
      const pushed = await client.post('/api/v1/sync/push', pushBody(n), seeded.pusher);
      const answeredAt = performance.now();
      if (pushed.status !== 200) throw new Error(`push answered ${pushed.status}`);
      // The event can arrive before the answer is read: 0 then.
      sse.push(Math.max(0, (await heardAt(n)) - answeredAt));
    }

    // (b) push answer → answer of a pull waiting with wait_ms.
    const poll: number[] = [];
    say(`live: ${rounds} pushes, each timed to a waiting pull's answer`);
    for (let n = 0; n < rounds; n++) {
      let answeredPull = 0;
      const waiting = client
        .post(
          '/api/v1/sync/pull',
          JSON.stringify({ since_sequence: lastHead, wait_ms: 30_000 }),
          seeded.listener,
        )
        .then((res) => {
          answeredPull = performance.now();
          return res;
        });
      // Long enough for the pull to be waiting on the server when the push comes.
      await new Promise((r) => setTimeout(r, 20));
      const pushed = await client.post('/api/v1/sync/push', pushBody(rounds + n), seeded.pusher);
      const answeredAt = performance.now();
      const res = await waiting;
      if (pushed.status !== 200 || res.status !== 200) {
        throw new Error(`push ${pushed.status} / waiting pull ${res.status}`);
      }
      const page = JSON.parse(res.body.toString('utf8')) as {
        server_sequence: number;
        ops: unknown[];
      };
      if (page.ops.length !== 1) throw new Error(`the waiting pull got ${page.ops.length} ops`);
      lastHead = page.server_sequence;
      poll.push(Math.max(0, answeredPull - answeredAt));
    }
    const peak = procStatusMiB(pid, 'VmHWM');
    const perConnectionKb =
      before !== undefined && after !== undefined ? ((after - before) * 1024) / idleCount : NaN;
    const row = (what: string, sample: number[]) => ({
      what,
      p50: percentile(sample, 50),
      p99: percentile(sample, 99),
      max: Math.max(...sample),
      goal: `p99 ≤ ${GOAL.p99Ms} ms`,
    });
    return {
      name: 'live',
      title: `Live sync with ${idleCount} idle event streams open (one vault each), the built server`,
      notes: [
        `${rounds} pushes of one op each by one device; its peer listens on an event stream, or waits in a pull with wait_ms`,
        'time from the push answer read by the client to the peer seeing the head event / its pull answer (0 when the event came first)',
        `server RSS at rest: ${before} MiB before the streams, ${after} MiB with them open (${REST_MS / 1000} s of rest each): ${perConnectionKb.toFixed(1)} KB per idle stream (goal ≤ ${GOAL.kbPerConnection} KB); peak ${peak} MiB`,
      ],
      columns: [
        { key: 'what', label: 'peer learns by', format: 'text' },
        { key: 'p50', label: 'p50 ms', format: 'ms' },
        { key: 'p99', label: 'p99 ms', format: 'ms' },
        { key: 'max', label: 'max ms', format: 'ms' },
        { key: 'goal', label: 'goal', format: 'text' },
      ],
      rows: [row('event stream (head event)', sse), row('pull with wait_ms', poll)],
    };
  } finally {
    for (const socket of sockets) socket.destroy();
    client.close();
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    rmSync(seeded.dataDir, { recursive: true, force: true });
  }
}

export const liveSection: Section = {
  name: 'live',
  description: 'live sync: push → head event / waiting pull latency with 1,000 idle streams',
  run,
};
