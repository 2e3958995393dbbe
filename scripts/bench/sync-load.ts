import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientRequest } from 'node:http';
import { openRuntime } from '../../src/runtime.js';
import { createHttpClient, percentile } from './http-client.js';
import { allowStreams, openStream, pairOneVaultEach, seedHasher } from './live-streams.js';
import { processCpuNs, pullOnce, pullPasses } from './pull-load.js';
import { anonRssMiB, procStatusMiB, restingRssMiB } from './server-memory.js';

const PASSWORD = 'bench-password-123';

export interface SyncLoadOptions {
  readonly devices: number;
  readonly batch: number;
  readonly payloadBytes: number;
  readonly pushSeconds: number;
  /** Each pull pass (the whole vault at one page size) is run this often; the median counts. */
  readonly pullPasses?: number;
  /** How long the server is left idle before its resting RSS is read (before and after load). */
  readonly restMs?: number;
  /** A further wait after the resting reading after the load, for a settled one (0: none). */
  readonly settleMs?: number;
}

export interface SyncLoadFigures {
  readonly pushOpsPerSec: number;
  readonly pushP50Ms: number;
  readonly pushP99Ms: number;
  readonly pushedOps: number;
  readonly pull100OpsPerSec: number;
  readonly pull1000OpsPerSec: number;
  readonly pull100P99Ms: number;
  /** CPU per page of 100 (µs), server process and load generator, over all pull passes. */
  readonly pull100ServerCpuUs: number | undefined;
  readonly pull100ClientCpuUs: number;
  /** Server CPU per page of 1000: where a smaller young generation showed first (issue 9). */
  readonly pull1000ServerCpuUs: number | undefined;
  readonly serverRssMiB: number;
  /** Server RSS (MiB) at rest: started and idle before any push, and idle again after the load. */
  readonly serverRestingRssMiB: {
    readonly beforeLoad?: number;
    readonly afterLoad?: number;
    /** Read `settleMs` after `afterLoad`, when asked for. */
    readonly settledAfterLoad?: number;
  };
  /** The anonymous part (RssAnon) of each resting reading above. */
  readonly serverRestingAnonMiB: {
    readonly beforeLoad?: number;
    readonly afterLoad?: number;
    readonly settledAfterLoad?: number;
  };
  /** The server's peak RSS over its whole life (VmHWM), in MiB. */
  readonly serverPeakRssMiB: number | undefined;
  /** CPU per pushed op (µs): the server process (all its threads) and the load generator. */
  readonly pushCpuUsPerOp: number | undefined;
  readonly pushClientCpuUsPerOp: number;
  /** Bytes of the database file (and WAL, if any was left) per pushed op, after shutdown. */
  readonly diskBytesPerOp: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function serverRssMiB(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/**
 * The environment the bench runs a server in: the launcher's (scripts/launcher.sh), which is
 * what an installed service runs — glibc's arenas capped at two unless the environment says.
 */
export const serverEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
  VERSTAK_LOG_LEVEL: 'warn',
  ...extra,
});

/**
 * Starts the built server as its own process on a fresh data directory with one user and
 * `devices` paired in one vault (paired before start: pairing is rate limited per IP).
 */
export async function startBenchServer(binary: string, devices: number, vaultId = 'bench-vault') {
  const dataDir = mkdtempSync(join(tmpdir(), 'vss-bench-'));
  // VSS_BENCH_LISTENERS=N: N more devices, one vault each, hold an event stream open through
  // the whole run (issue 10: the sync figures with idle listeners attached).
  const listeners = Number(process.env.VSS_BENCH_LISTENERS ?? 0);
  // Pairing a thousand listeners through the server's argon2 profile would take half a
  // minute; no password is checked once the server runs.
  const runtime = openRuntime({ dataDir, ...(listeners > 0 ? { hasher: seedHasher } : {}) });
  await runtime.users.register(
    { username: 'bench', email: 'bench@example.test', password: PASSWORD, confirmed: true },
    'operator',
    { actor: 'bench' },
  );
  const tokens: string[] = [];
  for (let i = 0; i < devices; i++) {
    const paired = await runtime.devices.pair(
      {
        login: 'bench',
        password: PASSWORD,
        deviceName: `device-${i}`,
        clientVersion: 'bench',
        vaultId,
        via: 'pair',
      },
      { actor: 'bench' },
    );
    tokens.push(paired.token);
  }
  const listenerTokens = await pairOneVaultEach(runtime, listeners, 'listener', PASSWORD);
  runtime.close();
  if (listeners > 0) allowStreams(dataDir, listeners);
  writeFileSync(join(dataDir, 'admin.pw'), 'bench-admin-password');
  const port = await freePort();
  // e.g. VSS_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server.
  const nodeArgs = process.env.VSS_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  // VSS_BENCH_METRICS=1: /metrics on an address of its own, scraped every 5 s as Prometheus
  // would (a server older than the metrics ignores the variable, so A/B runs pass it to both).
  const metricsPort = process.env.VSS_BENCH_METRICS ? await freePort() : undefined;
  const metricsEnv = metricsPort ? { VERSTAK_METRICS_LISTEN: `127.0.0.1:${metricsPort}` } : {};
  const child = spawn(
    process.execPath,
    [...nodeArgs, binary, '--port', String(port), '--data', dataDir],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: serverEnv(metricsEnv),
    },
  );
  const scraper =
    metricsPort === undefined
      ? undefined
      : setInterval(() => {
          fetch(`http://127.0.0.1:${metricsPort}/metrics`)
            .then((res) => res.text())
            .catch(() => undefined);
        }, 5_000);
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`${baseUrl}/livez`);
      if (res.ok) break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const streams: ClientRequest[] = [];
  for (const token of listenerTokens) streams.push(await openStream(port, token, () => {}));
  return {
    baseUrl,
    child,
    tokens,
    dataDir,
    /** Stops the server; answers the bytes its database (and any WAL left) took on disk. */
    async stop(): Promise<number> {
      for (const stream of streams) stream.destroy();
      clearInterval(scraper);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      const db = join(dataDir, 'server.db');
      const bytes = [db, `${db}-wal`].reduce(
        (sum, f) => sum + (existsSync(f) ? statSync(f).size : 0),
        0,
      );
      rmSync(dataDir, { recursive: true, force: true });
      return bytes;
    },
  };
}

/** A push body of `size` update ops from one device, ~`payloadBytes` of payload each. */
export function batchBody(
  device: number,
  start: number,
  size: number,
  payloadBytes: number,
): string {
  const filler = 'x'.repeat(Math.max(0, payloadBytes - 40));
  const ops = [];
  for (let i = 0; i < size; i++) {
    const n = start + i;
    ops.push({
      op_id: `d${device}-op-${n}`,
      entity_type: 'file',
      entity_id: `notes/${device}/${n % 500}.md`,
      op_type: 'update',
      payload_json: JSON.stringify({ path: `n/${n}.md`, content: filler }),
      client_sequence: n,
      last_seen_server_seq: 0,
      created_at: '2026-11-26T10:00:00Z',
    });
  }
  return JSON.stringify({ ops });
}

async function pushPhase(baseUrl: string, tokens: string[], opts: SyncLoadOptions) {
  const client = createHttpClient(baseUrl, tokens.length);
  const latencies: number[] = [];
  let ops = 0;
  const deadline = Date.now() + opts.pushSeconds * 1000;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    tokens.map(async (token, device) => {
      for (let n = 0; Date.now() < deadline; n += opts.batch) {
        const body = batchBody(device, n, opts.batch, opts.payloadBytes);
        const t0 = performance.now();
        const res = await client.post('/api/v1/sync/push', body, token);
        latencies.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`push ${res.status} ${res.body.toString()}`);
        ops += opts.batch;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  client.close();
  latencies.sort((a, b) => a - b);
  return {
    clientCpuUsPerOp: (cpu.user + cpu.system) / ops,
    opsPerSec: ops / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    ops,
  };
}

/**
 * 8 devices pushing 100-op batches, then a device that synced the empty vault pulling
 * everything from 0.
 */
export async function runSyncLoad(binary: string, opts: SyncLoadOptions): Promise<SyncLoadFigures> {
  const server = await startBenchServer(binary, opts.devices + 1);
  let figures: Omit<SyncLoadFigures, 'diskBytesPerOp'>;
  try {
    const tokens = server.tokens.slice(0, opts.devices);
    const reader = server.tokens[opts.devices]!;
    // The reader's first pull from 0 would plan a first sync of the vault's final state
    // (README, "What a device receives"). Done on the empty vault, it is over at once, and
    // the passes below measure the pull path every device past its first sync takes.
    const first = await pullOnce(server.baseUrl, reader, 0);
    if (first.ops !== 0 || first.hasMore) throw new Error('the empty vault pulled ops');
    const pid = server.child.pid!;
    const restingBefore = await restingRssMiB(pid, opts.restMs ?? 0);
    const anonBefore = anonRssMiB(pid);
    const cpu0 = processCpuNs(pid);
    const pushed = await pushPhase(server.baseUrl, tokens, opts);
    const cpu1 = processCpuNs(pid);
    const passes = opts.pullPasses ?? 1;
    const pull100 = await pullPasses(server.baseUrl, reader, 100, passes, pid);
    const pull1000 = await pullPasses(server.baseUrl, reader, 1000, passes, pid);
    if (pull100.ops !== pushed.ops || pull1000.ops !== pushed.ops) {
      throw new Error(`pulled ${pull100.ops} / ${pull1000.ops} ops of ${pushed.ops} pushed`);
    }
    const rssAfterLoad = serverRssMiB(server.child);
    const restingAfter = await restingRssMiB(pid, opts.restMs ?? 0);
    const anonAfter = anonRssMiB(pid);
    const settledAfter = opts.settleMs ? await restingRssMiB(pid, opts.settleMs) : undefined;
    const anonSettled = opts.settleMs ? anonRssMiB(pid) : undefined;
    figures = {
      pushOpsPerSec: Math.round(pushed.opsPerSec),
      pushP50Ms: Number(pushed.p50.toFixed(1)),
      pushP99Ms: Number(pushed.p99.toFixed(1)),
      pushedOps: pushed.ops,
      pull100OpsPerSec: Math.round(pull100.opsPerSec),
      pull1000OpsPerSec: Math.round(pull1000.opsPerSec),
      pull100P99Ms: Number(pull100.p99.toFixed(1)),
      pull100ServerCpuUs:
        pull100.serverCpuUsPerPage === undefined
          ? undefined
          : Math.round(pull100.serverCpuUsPerPage),
      pull100ClientCpuUs: Math.round(pull100.clientCpuUsPerPage),
      pull1000ServerCpuUs:
        pull1000.serverCpuUsPerPage === undefined
          ? undefined
          : Math.round(pull1000.serverCpuUsPerPage),
      serverRssMiB: rssAfterLoad,
      serverRestingRssMiB: {
        beforeLoad: restingBefore,
        afterLoad: restingAfter,
        settledAfterLoad: settledAfter,
      },
      serverRestingAnonMiB: {
        beforeLoad: anonBefore,
        afterLoad: anonAfter,
        settledAfterLoad: anonSettled,
      },
      serverPeakRssMiB: procStatusMiB(pid, 'VmHWM'),
      pushCpuUsPerOp:
        cpu0 === undefined || cpu1 === undefined
          ? undefined
          : Number(((cpu1 - cpu0) / 1000 / pushed.ops).toFixed(1)),
      pushClientCpuUsPerOp: Number(pushed.clientCpuUsPerOp.toFixed(1)),
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
  // After the server's shutdown: what the log and its projections keep on disk per op.
  const diskBytes = await server.stop();
  return { ...figures, diskBytesPerOp: Math.round(diskBytes / figures.pushedOps) };
}
