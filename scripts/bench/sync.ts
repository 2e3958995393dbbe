import { spawnSync } from 'node:child_process';
import { runBlobBench } from './blobs.js';
import { measureCeiling } from './ceiling.js';
import { say, type BenchOptions, type Section, type SectionResult } from './section.js';
import { procStatusMiB } from './server-memory.js';
import { runSyncLoad, startBenchServer } from './sync-load.js';

const OWN_BINARY = new URL('../../bin/verstak-sync-server', import.meta.url).pathname;

// The original Go server on this machine (the figures), for the side-by-side.
// bytesPerOp: 287 MB for 400,000 pushed ops of ~200-byte payloads, as the issue quotes it.
const ORIGINAL = { push: 14_000, pull100: 65_000, upload: 140, download: 400, bytesPerOp: 717 };
/** Issue 9's budget for a small VPS: RSS at rest and peak through this section. */
const MEMORY_GOAL_MIB = { resting: 80, peak: 150 };
/** Idle time before a resting RSS is read: V8's memory reducer starts 8 s after activity. */
const REST_MS = 10_000;
/**
 * A further wait before the settled reading after the load: what the server gives back
 * later than 10 s after the last request (its idle reclaimer is done after 7.5 s; V8's own
 * memory reducer runs some 8 s after the reclaimer's collections).
 */
const SETTLE_MS = 20_000;

async function run(options: BenchOptions): Promise<SectionResult> {
  const seconds = options.quick ? 3 : 10;
  const binary = options.server ?? OWN_BINARY;
  // A single pass of a few hundred pages mostly measures the JIT warming up the pull path
  // (the push phase before it runs other code); the median of passes is the steady state.
  const pullPasses = options.pullOnly ? 5 : 3;
  say('sync: in-process ceiling');
  const ceiling = measureCeiling(seconds, 200);
  // The ceiling wrote hundreds of MiB: flushed now, their writeback is not charged to the
  // server's fsyncs in the push phase.
  spawnSync('sync');
  say('sync: 8 devices pushing 100-op batches over HTTP, then one device pulling everything');
  const load = await runSyncLoad(binary, {
    devices: 8,
    batch: 100,
    payloadBytes: 200,
    pushSeconds: seconds,
    pullPasses,
    restMs: REST_MS,
    settleMs: options.quick ? 0 : SETTLE_MS,
  });
  const blobMiB = options.blobMiB ?? (options.quick ? 16 : 100);
  const blob = options.pullOnly ? undefined : await measureBlob(binary, blobMiB);
  const rows = [
    {
      what: 'push ops/s (8 devices, 100-op batches)',
      ours: load.pushOpsPerSec,
      original: ORIGINAL.push,
      ceiling: Math.round(ceiling.appendOpsPerSec),
      share: load.pushOpsPerSec / ceiling.appendOpsPerSec,
    },
    {
      what: 'push p50 / p99 ms',
      ours: `${load.pushP50Ms} / ${load.pushP99Ms}`,
      original: '— / 120–180',
      ceiling: '',
      share: '',
    },
    {
      what: 'push CPU µs per op, server / bench client',
      ours: `${load.pushCpuUsPerOp ?? 'n/a'} / ${load.pushClientCpuUsPerOp}`,
      original: '',
      ceiling: '',
      share: '',
    },
    {
      what: 'pull ops/s, pages of 100',
      ours: load.pull100OpsPerSec,
      original: ORIGINAL.pull100,
      ceiling: Math.round(ceiling.readOpsPerSec),
      share: load.pull100OpsPerSec / ceiling.readOpsPerSec,
    },
    {
      what: 'pull ops/s, pages of 1000',
      ours: load.pull1000OpsPerSec,
      original: '',
      ceiling: '',
      share: '',
    },
    {
      what: 'pull p99 ms, pages of 100',
      ours: load.pull100P99Ms,
      original: '',
      ceiling: '',
      share: '',
    },
    {
      what: 'pull CPU µs per page of 100, server / bench client',
      ours: `${load.pull100ServerCpuUs ?? 'n/a'} / ${load.pull100ClientCpuUs}`,
      original: '',
      ceiling: '',
      share: '',
    },
    {
      what: 'pull CPU µs per page of 1000, server',
      ours: load.pull1000ServerCpuUs ?? 'n/a',
      original: '',
      ceiling: '',
      share: '',
    },
    {
      what: 'ops pulled in each pass',
      ours: load.pushedOps,
      original: '',
      ceiling: '',
      share: '',
    },
    {
      what: 'bytes on disk per pushed op (database after shutdown)',
      ours: load.diskBytesPerOp,
      original: ORIGINAL.bytesPerOp,
      ceiling: '',
      share: '',
    },
    {
      what: 'server RSS MiB at rest: started / after the load',
      ours: `${load.serverRestingRssMiB.beforeLoad ?? 'n/a'} / ${load.serverRestingRssMiB.afterLoad ?? 'n/a'}`,
      original: `goal ≤ ${MEMORY_GOAL_MIB.resting}`,
      ceiling: '',
      share: '',
    },
    {
      what: `server RSS MiB at rest ${(REST_MS + SETTLE_MS) / 1000} s after the load`,
      ours: load.serverRestingRssMiB.settledAfterLoad ?? 'n/a',
      original: `goal ≤ ${MEMORY_GOAL_MIB.resting}`,
      ceiling: '',
      share: '',
    },
    {
      what: `of which anonymous (the server's own heaps): started / after the load / ${(REST_MS + SETTLE_MS) / 1000} s after`,
      ours: [
        load.serverRestingAnonMiB.beforeLoad,
        load.serverRestingAnonMiB.afterLoad,
        load.serverRestingAnonMiB.settledAfterLoad,
      ]
        .map((v) => v ?? 'n/a')
        .join(' / '),
      original: '',
      ceiling: '',
      share: '',
    },
    {
      what: 'server RSS MiB right after push+pull',
      ours: load.serverRssMiB,
      original: '',
      ceiling: '',
      share: '',
    },
    {
      what: 'server peak RSS MiB (VmHWM) through push+pull',
      ours: load.serverPeakRssMiB ?? 'n/a',
      original: `goal ≤ ${MEMORY_GOAL_MIB.peak}`,
      ceiling: '',
      share: '',
    },
    ...(blob ? blobRows(blob, blobMiB) : []),
  ].map((r) => ({ ...r, share: typeof r.share === 'number' ? r.share.toFixed(2) : r.share }));
  return {
    name: 'sync',
    title: 'Desktop sync API over HTTP on loopback (the built server as its own process)',
    notes: [
      'ceiling: the same hash-chained appends (100 per fsynced commit) and reads by sequence done in-process with better-sqlite3, measured in this run',
      'share: our HTTP figure divided by the ceiling (the original reaches about 0.22 on push, 0.2 on pull)',
      `push payloads ~200 bytes; ${seconds} s of pushing; pushes from several devices share a commit (group commit)`,
      'pulling device: paired with the others and pulled once while the vault was empty, so its first sync is over and its pulls from 0 take the ordinary pull path (a first sync is the first-sync section)',
      'pull client: HTTP/1.1 written on one keep-alive socket (scripts/bench/raw-http.ts; node:http cost more CPU per page than the server did); each answer is read by Content-Length and each page checked like the desktop does (paging fields, op count, page_last_sequence = last op, progress, trailing newline)',
      ...(pullPasses > 1
        ? [`pull figures: median of ${pullPasses} passes over the whole vault`]
        : []),
      `server RSS at rest: read after ${REST_MS / 1000} s without requests, once started (before any push) and after the pull passes; peak: VmHWM of /proc/PID/status, the most the process ever held`,
      `server environment: the launcher's, MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '2'} (glibc's malloc arenas; scripts/launcher.sh sets 2 unless the environment has a value)`,
      "anonymous: RssAnon of /proc/PID/status, V8's and malloc's heaps; the rest of the RSS is file-backed pages of the node binary and its libraries (some 34 MiB for a bare node, 46–47 MiB once the server's code has run), shared with other node processes and dropped by the kernel under memory pressure",
      'pull CPU per page: all threads of the server process (/proc schedstat) and of this process, over the pull passes; steadier than ops/s when the machine is shared',
      ...(options.server ? [`server: ${options.server}`] : []),
      ...(process.env.VSS_BENCH_LISTENERS
        ? [
            `${process.env.VSS_BENCH_LISTENERS} more devices, one vault each, held an event stream open through the run (VSS_BENCH_LISTENERS)`,
          ]
        : []),
      ...(process.env.VSS_BENCH_METRICS
        ? ['metrics on, on a listener of their own, scraped every 5 s (VSS_BENCH_METRICS)']
        : []),
    ],
    columns: [
      { key: 'what', label: 'measure', format: 'text' },
      { key: 'ours', label: 'ours', format: 'text' },
      { key: 'original', label: 'original', format: 'text' },
      { key: 'ceiling', label: 'ceiling', format: 'text' },
      { key: 'share', label: 'share', format: 'text' },
    ],
    rows,
  };
}

async function measureBlob(binary: string, blobMiB: number) {
  say(`sync: a ${blobMiB} MiB blob up and down`);
  const server = await startBenchServer(binary, 1);
  try {
    const blob = await runBlobBench(server.baseUrl, server.tokens[0]!, blobMiB, {
      serverPid: server.child.pid,
    });
    if (!blob.verified) throw new Error('downloaded blob does not match the upload');
    return { ...blob, serverPeakRssMiB: procStatusMiB(server.child.pid, 'VmHWM') };
  } finally {
    await server.stop();
  }
}

type BlobFigures = Awaited<ReturnType<typeof measureBlob>>;

function blobRows(blob: BlobFigures, blobMiB: number) {
  return [
    {
      what: `blob upload MiB/s (${blobMiB} MiB)`,
      ours: Math.round(blob.uploadMiBps),
      original: ORIGINAL.upload,
      ceiling: '',
      share: '',
    },
    {
      what: `blob download MiB/s (${blobMiB} MiB)`,
      ours: Math.round(blob.downloadMiBps),
      original: ORIGINAL.download,
      ceiling: '',
      share: '',
    },
    {
      what: 'server RSS MiB during blob (before / peak sampled / VmHWM)',
      ours: blob.serverRssMiB
        ? `${blob.serverRssMiB.before} / ${blob.serverRssMiB.peak} / ${blob.serverPeakRssMiB ?? 'n/a'}`
        : 'n/a',
      original: `goal ≤ ${MEMORY_GOAL_MIB.peak}`,
      ceiling: '',
      share: '',
    },
  ];
}

export const syncSection: Section = {
  name: 'sync',
  description:
    'push, pull and blob throughput over HTTP against a listening server, with the in-process ceiling',
  run,
};
