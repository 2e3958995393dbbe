import { readdirSync, readFileSync } from 'node:fs';
import { DEFAULT_PULL_PAGE } from '../../src/commands/sync-service.js';
import { percentile } from './http-client.js';
import { RawHttpConnection } from './raw-http.js';

const OP_START = Buffer.from('{"server_sequence":');
const NEWLINE = 0x0a;

export interface PageCheck {
  readonly ops: number;
  readonly last: number;
  readonly hasMore: boolean;
}

/**
 * What the desktop checks of a page (CONTRACT.md §4.7), read from the raw bytes so that the
 * load generator is not what gets measured: the paging fields (the server writes them
 * first), the op count, page_last_sequence equal to the last op's sequence (or the cursor
 * when empty), progress when has_more is set, and the trailing newline.
 */
export function checkPage(body: Buffer, cursor: number, pageLimit: number): PageCheck {
  const head =
    /^\{"server_sequence":\d+,"page_last_sequence":(\d+),"has_more":(true|false),"ops":\[/.exec(
      body.subarray(0, 160).toString('latin1'),
    );
  if (!head) throw new Error('pull page without paging fields');
  if (body[body.length - 1] !== NEWLINE) throw new Error('pull page without a trailing newline');
  const last = Number(head[1]);
  const hasMore = head[2] === 'true';
  let ops = 0;
  let lastOp = -1;
  // The page itself starts with {"server_sequence": too.
  for (let at = body.indexOf(OP_START, 1); at >= 0; at = body.indexOf(OP_START, at + 1)) {
    ops += 1;
    lastOp = at;
  }
  const lastSeq =
    lastOp < 0
      ? cursor
      : Number(
          /^\d+/.exec(
            body.toString('latin1', lastOp + OP_START.length, lastOp + OP_START.length + 20),
          )?.[0],
        );
  if (last !== lastSeq) throw new Error(`page_last_sequence ${last}, last op ${lastSeq}`);
  if (ops > pageLimit) throw new Error(`${ops} ops in a page of ${pageLimit}`);
  if (hasMore && (ops === 0 || last <= cursor)) throw new Error('has_more without progress');
  return { ops, last, hasMore };
}

/** A device pulling the whole vault from 0 over one raw keep-alive connection. */
export async function pullPhase(baseUrl: string, token: string, pageLimit: number) {
  const url = new URL(baseUrl);
  const connection = new RawHttpConnection(url.hostname, Number(url.port));
  const latencies: number[] = [];
  let cursor = 0;
  let ops = 0;
  let pages = 0;
  const started = performance.now();
  try {
    for (;;) {
      const t0 = performance.now();
      const res = await connection.post(
        '/api/v1/sync/pull',
        `{"since_sequence":${cursor},"page_limit":${pageLimit}}`,
        token,
      );
      latencies.push(performance.now() - t0);
      if (res.status !== 200) throw new Error(`pull ${res.status} ${res.body.toString()}`);
      const page = checkPage(res.body, cursor, pageLimit);
      pages += 1;
      ops += page.ops;
      cursor = page.last;
      if (!page.hasMore) break;
    }
  } finally {
    connection.close();
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { opsPerSec: ops / seconds, p99: percentile(latencies, 99), ops, pages };
}

export type PullPass = Awaited<ReturnType<typeof pullPhase>>;

/** One pull without page_limit (the desktop's default page size), its page checked. */
export async function pullOnce(baseUrl: string, token: string, since: number): Promise<PageCheck> {
  const url = new URL(baseUrl);
  const connection = new RawHttpConnection(url.hostname, Number(url.port));
  try {
    const res = await connection.post('/api/v1/sync/pull', `{"since_sequence":${since}}`, token);
    if (res.status !== 200) throw new Error(`pull ${res.status} ${res.body.toString()}`);
    return checkPage(res.body, since, DEFAULT_PULL_PAGE);
  } finally {
    connection.close();
  }
}

/**
 * CPU time of a process, all its threads (GC and compiler helpers too), in ns; undefined
 * where /proc is not there. On a shared machine, CPU per page varies less than ops/s.
 */
export function processCpuNs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return readdirSync(`/proc/${pid}/task`).reduce(
      (sum, task) =>
        sum + Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]),
      0,
    );
  } catch {
    return undefined;
  }
}

export interface PullFigures extends PullPass {
  /** Server CPU per page over all passes (µs); undefined without /proc. */
  readonly serverCpuUsPerPage: number | undefined;
  /** This process's CPU per page over all passes (µs): the load generator's share. */
  readonly clientCpuUsPerPage: number;
}

/** The median of `passes` whole-vault pulls, with the CPU both sides spent on them. */
export async function pullPasses(
  baseUrl: string,
  token: string,
  pageLimit: number,
  passes: number,
  serverPid?: number,
): Promise<PullFigures> {
  const runs: PullPass[] = [];
  const server0 = processCpuNs(serverPid);
  const client0 = process.cpuUsage();
  for (let i = 0; i < passes; i++) runs.push(await pullPhase(baseUrl, token, pageLimit));
  const client = process.cpuUsage(client0);
  const server1 = processCpuNs(serverPid);
  const pages = runs.reduce((sum, r) => sum + r.pages, 0);
  runs.sort((a, b) => a.opsPerSec - b.opsPerSec);
  return {
    ...runs[Math.floor(runs.length / 2)]!,
    serverCpuUsPerPage:
      server0 !== undefined && server1 !== undefined
        ? (server1 - server0) / 1000 / pages
        : undefined,
    clientCpuUsPerPage: (client.user + client.system) / pages,
  };
}
