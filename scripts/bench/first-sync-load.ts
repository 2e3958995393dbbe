import { DEFAULT_PULL_PAGE } from '../../src/commands/sync-service.js';
import {
  differenceFrom,
  pushBatches,
  type Expected,
  type VaultShape,
  type WireOp,
} from './edited-vault.js';
import { checkPage, processCpuNs, pullOnce } from './pull-load.js';
import { RawHttpConnection } from './raw-http.js';
import { serverRssMiB, startBenchServer } from './sync-load.js';

export interface EditedVault {
  readonly shape: VaultShape;
  readonly ops: readonly WireOp[];
  readonly expected: Expected;
}

/** One device pulling from 0 to has_more: false in pages of the default size. */
export interface PullRun {
  readonly ops: number;
  /** Response bodies only (headers left out). */
  readonly bytes: number;
  readonly pages: number;
  readonly seconds: number;
  readonly serverCpuSeconds: number | undefined;
}

export interface FirstSyncFigures {
  readonly seedSeconds: number;
  /** A new device's first sync, once per fresh device. */
  readonly firstSyncs: readonly PullRun[];
  /** Pulls from 0 by the device whose first sync was on the empty vault; [] when not asked. */
  readonly history: readonly PullRun[];
  readonly serverRssMiB: number;
}

export interface FirstSyncLoadOptions {
  /** Fresh devices doing a first sync, and passes of the early device's pull from 0. */
  readonly passes: number;
  /** What a first sync must deliver: the live paths, or the whole log on an older server. */
  readonly firstSyncOps: number;
  /** Ops a pull from 0 past the first sync must deliver; undefined: that pull is not run. */
  readonly historyOps: number | undefined;
  /** Replay the first pass of each kind and compare with the vault's final state. */
  readonly verify: boolean;
}

const url = (baseUrl: string) => new URL(baseUrl);

/** The desktop's pull loop, without page_limit, so the server's default page size applies. */
async function pullFromZero(
  baseUrl: string,
  token: string,
  serverPid: number | undefined,
  keep: Buffer[] | undefined,
): Promise<PullRun & { cursor: number }> {
  const { hostname, port } = url(baseUrl);
  const connection = new RawHttpConnection(hostname, Number(port));
  let cursor = 0;
  let ops = 0;
  let bytes = 0;
  let pages = 0;
  const cpu0 = processCpuNs(serverPid);
  const started = performance.now();
  try {
    for (;;) {
      const res = await connection.post('/api/v1/sync/pull', `{"since_sequence":${cursor}}`, token);
      if (res.status !== 200) throw new Error(`pull ${res.status} ${res.body.toString()}`);
      const page = checkPage(res.body, cursor, DEFAULT_PULL_PAGE);
      // The body lives in the connection's reused buffer: a kept page is copied.
      keep?.push(Buffer.from(res.body));
      pages += 1;
      ops += page.ops;
      bytes += res.body.length;
      cursor = page.last;
      if (!page.hasMore) break;
    }
  } finally {
    connection.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu1 = processCpuNs(serverPid);
  const serverCpuSeconds =
    cpu0 === undefined || cpu1 === undefined ? undefined : (cpu1 - cpu0) / 1e9;
  return { ops, bytes, pages, seconds, serverCpuSeconds, cursor };
}

function checkState(what: string, expected: Expected, pages: readonly Buffer[]): void {
  const ops = pages.flatMap((page) => (JSON.parse(page.toString()) as { ops: WireOp[] }).ops);
  const difference = differenceFrom(expected, ops);
  if (difference) throw new Error(`${what} does not end in the vault's final state: ${difference}`);
}

async function seed(
  baseUrl: string,
  tokens: readonly string[],
  vault: EditedVault,
): Promise<number> {
  const { hostname, port } = url(baseUrl);
  const connection = new RawHttpConnection(hostname, Number(port));
  const started = performance.now();
  try {
    for (const batch of pushBatches(vault.ops, vault.shape)) {
      const res = await connection.post('/api/v1/sync/push', batch.body, tokens[batch.device]);
      if (res.status !== 200) throw new Error(`push ${res.status} ${res.body.toString()}`);
      const answer = JSON.parse(res.body.toString()) as { count: number; rejected: unknown[] };
      if (answer.count !== batch.size || answer.rejected.length > 0) {
        throw new Error(`push accepted ${answer.count} of ${batch.size} ops`);
      }
    }
  } finally {
    connection.close();
  }
  return (performance.now() - started) / 1000;
}

/**
 * One server on a fresh data directory: a device pulls once while the vault is empty (its
 * first sync is then over), the vault is pushed over HTTP one batch at a time (the same
 * sequence on every server), then `passes` new devices each do their first sync and the
 * early device pulls from 0 `passes` times. Every page is checked; so is each run's total.
 */
export async function runFirstSyncLoad(
  binary: string,
  vault: EditedVault,
  opts: FirstSyncLoadOptions,
): Promise<FirstSyncFigures> {
  const { devices } = vault.shape;
  const server = await startBenchServer(binary, devices + opts.passes + 1);
  try {
    const { baseUrl, tokens } = server;
    const pid = server.child.pid;
    const early = tokens[devices + opts.passes]!;
    const empty = await pullOnce(baseUrl, early, 0);
    if (empty.ops !== 0 || empty.hasMore) throw new Error('the empty vault pulled ops');
    const seedSeconds = await seed(baseUrl, tokens.slice(0, devices), vault);

    const firstSyncs: PullRun[] = [];
    for (let i = 0; i < opts.passes; i++) {
      const token = tokens[devices + i]!;
      const keep = opts.verify && i === 0 ? [] : undefined;
      const { cursor, ...run } = await pullFromZero(baseUrl, token, pid, keep);
      if (run.ops !== opts.firstSyncOps) {
        throw new Error(`first sync received ${run.ops} ops, ${opts.firstSyncOps} expected`);
      }
      // The vault is idle: once the first sync is over, the device is up to date.
      const after = await pullOnce(baseUrl, token, cursor);
      if (after.ops !== 0 || after.hasMore) throw new Error('ops left after a first sync');
      if (keep) checkState('a first sync', vault.expected, keep);
      firstSyncs.push(run);
    }

    const history: PullRun[] = [];
    for (let i = 0; opts.historyOps !== undefined && i < opts.passes; i++) {
      const keep = opts.verify && i === 0 ? [] : undefined;
      const { cursor: _cursor, ...run } = await pullFromZero(baseUrl, early, pid, keep);
      if (run.ops !== opts.historyOps) {
        throw new Error(`pull from 0 received ${run.ops} ops, ${opts.historyOps} expected`);
      }
      if (keep) checkState('a pull from 0', vault.expected, keep);
      history.push(run);
    }
    return { seedSeconds, firstSyncs, history, serverRssMiB: serverRssMiB(server.child) };
  } finally {
    await server.stop();
  }
}
