import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBlobBench } from './blobs.js';
import { createHttpClient, percentile } from './http-client.js';
import { say, type BenchOptions, type Section, type SectionResult } from './section.js';
import { batchBody, startBenchServer } from './sync-load.js';

const OWN_BINARY = new URL('../../bin/verstak-sync-server', import.meta.url).pathname;
const DEVICES = 8;
const BATCH = 100;
const PAYLOAD_BYTES = 200;
// The fill only has to be quick: the largest batch a push takes, with bigger payloads, so
// the database reaches a size whose backup lasts seconds.
const FILL_BATCH = 1000;
const FILL_PAYLOAD_BYTES = 400;
const MiB = 1024 * 1024;
// A steady load well below what the server takes on a shared 2-core machine (R8 asks for
// 100 pushes/s of 1-20 ops; these carry 100): each device on its own schedule. A closed loop
// (each device pushing back to back) would saturate the server, and its latency would
// measure throughput lost to the backup rather than how long a push waits.
const PUSHES_PER_SECOND = Number(process.env.VSS_BENCH_PUSH_RATE ?? 40);

type WindowKind = 'normal' | 'backup';

interface Sample {
  readonly window: number;
  /** When the push came due (performance.now()). */
  readonly at: number;
  readonly ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Devices pushing on a fixed schedule until stopped; a push that comes due while the previous
 * one is still out starts as soon as it returns, and its latency counts from when it was due,
 * so a stalled server is not hidden by the pushes it kept from being sent. Each latency counts
 * in the window the push came due in.
 */
function startPushers(baseUrl: string, tokens: readonly string[], firstOp: number) {
  const client = createHttpClient(baseUrl, tokens.length);
  const samples: Sample[] = [];
  let window = -1;
  let stopped = false;
  const done = Promise.all(
    tokens.map(async (token, device) => {
      const interval = (1000 * tokens.length) / PUSHES_PER_SECOND;
      // Staggered, so the devices do not all come due at once.
      let due = performance.now() + (interval * device) / tokens.length;
      for (let n = firstOp; !stopped; n += BATCH) {
        const body = batchBody(device, n, BATCH, PAYLOAD_BYTES);
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const began = window;
        const res = await client.post('/api/v1/sync/push', body, token);
        if (res.status !== 200) throw new Error(`push ${res.status} ${res.body.toString()}`);
        if (began >= 0) samples.push({ window: began, at: due, ms: performance.now() - due });
        due += interval;
      }
    }),
  );
  return {
    samples,
    enter(index: number) {
      window = index;
    },
    async stop() {
      stopped = true;
      await done;
      client.close();
    },
  };
}

async function fill(baseUrl: string, tokens: readonly string[], ops: number): Promise<number> {
  const client = createHttpClient(baseUrl, tokens.length);
  const perDevice = Math.ceil(ops / tokens.length / FILL_BATCH) * FILL_BATCH;
  let pushed = 0;
  let nextReport = 50_000;
  await Promise.all(
    tokens.map(async (token, device) => {
      for (let n = 0; n < perDevice; n += FILL_BATCH) {
        const body = batchBody(device, n, FILL_BATCH, FILL_PAYLOAD_BYTES);
        const res = await client.post('/api/v1/sync/push', body, token);
        if (res.status !== 200) throw new Error(`fill push ${res.status} ${res.body.toString()}`);
        pushed += FILL_BATCH;
        if (pushed >= nextReport) {
          say(`backup: filled ${pushed} of ${perDevice * tokens.length} ops`);
          nextReport += 50_000;
        }
      }
    }),
  );
  client.close();
  return perDevice;
}

type Phase = 'database' | 'blobs' | 'archive';

const PHASE_LABELS: Record<string, Phase> = {
  'copying the database': 'database',
  'checking blobs': 'blobs',
  'writing the archive': 'archive',
};

interface BackupRun {
  readonly seconds: number;
  readonly archiveBytes: number;
  readonly headSeq: number;
  /** When each phase's first progress line came (performance.now()), in order. */
  readonly phases: readonly { phase: Phase; at: number }[];
}

/** The built CLI's `backup` as its own process, as an operator's cron job runs it. */
function runBackup(binary: string, dataDir: string, out: string): Promise<BackupRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [binary, 'backup', '--data', dataDir, '--out', out, '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    const phases: { phase: Phase; at: number }[] = [];
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    // Not a terminal: the CLI prints `<label>: <done> of <total>` every 10% of a phase.
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      for (const [label, phase] of Object.entries(PHASE_LABELS)) {
        if (stderr.includes(`${label}:`) && !phases.some((p) => p.phase === phase)) {
          phases.push({ phase, at: performance.now() });
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`backup exited with ${code}: ${stderr.trim()}`));
        return;
      }
      const summary = JSON.parse(stdout) as { archive_bytes: number; head_seq: number };
      resolve({
        seconds: (performance.now() - started) / 1000,
        archiveBytes: summary.archive_bytes,
        headSeq: summary.head_seq,
        phases,
      });
    });
  });
}

/**
 * The most frames the server's WAL held while `until` ran, sampled every 50 ms from the
 * wal-index header in -shm (mxFrame, a native-endian u32 at byte 16), so the bench opens no
 * database connection of its own. The -wal file's size says nothing: it keeps its largest
 * size when SQLite restarts the WAL from its beginning.
 */
async function peakWalFrames<T>(dataDir: string, until: Promise<T>) {
  const shm = join(dataDir, 'server.db-shm');
  const header = Buffer.alloc(20);
  let peak = 0;
  const sample = () => {
    let fd: number | undefined;
    try {
      fd = openSync(shm, 'r');
      if (readSync(fd, header, 0, 20, 0) === 20) peak = Math.max(peak, header.readUInt32LE(16));
    } catch {
      // -shm is briefly absent only when the server is not running.
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
  const timer = setInterval(sample, 50);
  try {
    const value = await until;
    sample();
    return { value, peak };
  } finally {
    clearInterval(timer);
  }
}

function figures(latencies: number[]) {
  latencies.sort((a, b) => a - b);
  return {
    pushes: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

interface Window {
  readonly kind: WindowKind;
  /** Which build's CLI ran the backup: 'ours', or 'baseline' (--baseline). */
  readonly cli?: 'ours' | 'baseline';
  readonly seconds: number;
  readonly walFrames: number;
  readonly backup?: BackupRun;
}

const PHASES = ['database', 'blobs', 'archive'] as const;

async function run(options: BenchOptions): Promise<SectionResult> {
  const fillOps = options.quick ? 40_000 : 250_000;
  // More rounds narrow the pooled percentiles on a shared machine: VSS_BENCH_BACKUP_ROUNDS.
  const rounds = Number(process.env.VSS_BENCH_BACKUP_ROUNDS ?? (options.quick ? 1 : 3));
  const normalMs = options.quick ? 2000 : 6000;
  const blobMiB = options.blobMiB ?? (options.quick ? 4 : 32);
  const binary = options.server ?? OWN_BINARY;
  const clis = { ours: binary, ...(options.baseline ? { baseline: options.baseline } : {}) };
  const server = await startBenchServer(binary, DEVICES);
  const outDir = mkdtempSync(join(tmpdir(), 'vss-bench-backup-'));
  try {
    say(`backup: filling the log with ${fillOps} ops and a ${blobMiB} MiB blob`);
    const firstOp = await fill(server.baseUrl, server.tokens, fillOps);
    const blob = await runBlobBench(server.baseUrl, server.tokens[0]!, blobMiB);
    if (!blob.verified) throw new Error('the blob did not come back as uploaded');
    const dbBytes = statSync(join(server.dataDir, 'server.db')).size;

    const pushers = startPushers(server.baseUrl, server.tokens, firstOp);
    const windows: Window[] = [];
    try {
      // Warm-up outside any window: the JIT and the WAL settle after the fill.
      await sleep(1000);
      for (let round = 0; round < rounds; round++) {
        // With a baseline, each round backs up with both builds (which goes first alternates).
        const order = Object.keys(clis) as ('ours' | 'baseline')[];
        if (round % 2 === 1) order.reverse();
        for (const cli of order) {
          say(`backup: round ${round + 1} of ${rounds}: pushing, then a backup (${cli})`);
          pushers.enter(windows.length);
          let t0 = performance.now();
          const normal = await peakWalFrames(server.dataDir, sleep(normalMs));
          const normalSeconds = (performance.now() - t0) / 1000;
          windows.push({ kind: 'normal', seconds: normalSeconds, walFrames: normal.peak });
          pushers.enter(windows.length);
          t0 = performance.now();
          const out = join(outDir, `backup-${windows.length}.tar.gz`);
          const backup = await peakWalFrames(
            server.dataDir,
            runBackup(clis[cli]!, server.dataDir, out),
          );
          windows.push({
            kind: 'backup',
            cli,
            seconds: (performance.now() - t0) / 1000,
            walFrames: backup.peak,
            backup: backup.value,
          });
          rmSync(out, { force: true });
          // The pushes right after a backup (the WAL catching up) count in the next normal
          // window: that too is what a backup costs the server.
        }
      }
    } finally {
      pushers.enter(-1);
      await pushers.stop();
    }

    const samplesOf = (keep: (w: Window) => boolean) =>
      pushers.samples.filter((s) => keep(windows[s.window]!));
    const rows: Record<string, string | number>[] = windows.map((w, i) => {
      const f = figures(pushers.samples.filter((s) => s.window === i).map((s) => s.ms));
      return {
        window: `${i + 1} ${w.kind}${w.cli && options.baseline ? ` (${w.cli})` : ''}`,
        seconds: w.seconds,
        opsPerSec: (f.pushes * BATCH) / w.seconds,
        p50: f.p50,
        p99: f.p99,
        walFrames: w.walFrames,
        archiveMiB: w.backup ? w.backup.archiveBytes / MiB : '',
      };
    });
    const normal = figures(samplesOf((w) => w.kind === 'normal').map((s) => s.ms));
    const summary: string[] = [];
    for (const cli of Object.keys(clis) as ('ours' | 'baseline')[]) {
      const during = samplesOf((w) => w.cli === cli);
      const f = figures(during.map((s) => s.ms));
      const backups = windows.flatMap((w) => (w.cli === cli && w.backup ? [w.backup] : []));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const label = options.baseline ? `backup (${cli})` : 'backup';
      rows.push({
        window: `all ${label}: ${backups.length}`,
        seconds: mean(backups.map((b) => b.seconds)),
        opsPerSec: (f.pushes * BATCH) / backups.reduce((sum, b) => sum + b.seconds, 0),
        p50: f.p50,
        p99: f.p99,
        walFrames: Math.max(...windows.filter((w) => w.cli === cli).map((w) => w.walFrames)),
        archiveMiB: mean(backups.map((b) => b.archiveBytes)) / MiB,
      });
      // Which part of the backup hurts: pushes by the phase the backup was in when they came
      // due (from the CLI's progress lines; 'database' includes hashing the copy).
      const phaseOf = (sample: Sample): Phase | undefined =>
        windows[sample.window]!.backup!.phases.filter((p) => p.at <= sample.at).at(-1)?.phase;
      const byPhase = PHASES.map((phase) => {
        const g = figures(during.filter((s) => phaseOf(s) === phase).map((s) => s.ms));
        return `${phase} ${g.p50.toFixed(1)} / ${g.p99.toFixed(1)} ms (${g.pushes})`;
      });
      summary.push(
        `${label}: push p50 ${normal.p50.toFixed(2)} → ${f.p50.toFixed(2)} ms (×${(f.p50 / normal.p50).toFixed(2)}), ` +
          `p99 ${normal.p99.toFixed(1)} → ${f.p99.toFixed(1)} ms (×${(f.p99 / normal.p99).toFixed(2)}; goal ≤ 2)`,
        `${label} by phase, p50 / p99 (pushes): ${byPhase.join('; ')}`,
      );
    }
    const normalWindows = windows.filter((w) => w.kind === 'normal');
    rows.push({
      window: `all normal: ${normalWindows.length}`,
      seconds: normalMs / 1000,
      opsPerSec: (normal.pushes * BATCH) / normalWindows.reduce((sum, w) => sum + w.seconds, 0),
      p50: normal.p50,
      p99: normal.p99,
      walFrames: Math.max(...normalWindows.map((w) => w.walFrames)),
      archiveMiB: '',
    });
    for (const line of summary) say(`backup: ${line}`);
    return {
      name: 'backup',
      title: 'Pushes while `backup` runs as its own process (the built CLI)',
      notes: [
        `log filled with ${firstOp * DEVICES} ops (${FILL_BATCH}-op batches, ~${FILL_PAYLOAD_BYTES}-byte payloads) and one ${blobMiB} MiB blob: database ${(dbBytes / MiB).toFixed(0)} MiB before the windows`,
        `${DEVICES} devices pushing ${BATCH}-op batches (~${PAYLOAD_BYTES}-byte payloads), ${PUSHES_PER_SECOND} pushes/s in all on a fixed schedule through every window; latency from when a push came due (a late push is not forgiven its wait)`,
        `windows alternate: ${normalMs / 1000} s without a backup, then one backup from spawn to exit; ${rounds} round(s)` +
          (options.baseline
            ? `, each backing up once with this build and once with ${options.baseline} (the order alternates)`
            : ''),
        'wal frames: the most the server WAL held in the window (4 KiB pages; a reader that pins a snapshot keeps the WAL from restarting)',
        '"all" rows: pushes pooled over those windows; seconds and archive MiB are the mean backup',
        ...summary,
      ],
      columns: [
        { key: 'window', label: 'window', format: 'text' },
        { key: 'seconds', label: 'seconds', format: 'seconds' },
        { key: 'opsPerSec', label: 'push ops/s', format: 'rate' },
        { key: 'p50', label: 'p50 ms', format: 'ms' },
        { key: 'p99', label: 'p99 ms', format: 'ms' },
        { key: 'walFrames', label: 'wal frames', format: 'count' },
        { key: 'archiveMiB', label: 'archive MiB', format: 'decimal' },
      ],
      rows,
    };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
    await server.stop();
  }
}

export const backupSection: Section = {
  name: 'backup',
  description:
    "push latency with and without a concurrent `backup` process on a pre-filled log (--baseline: A/B against another build's CLI)",
  run,
};
