import { DEFAULT_PULL_PAGE } from '../../src/commands/sync-service.js';
import { editedVault, FULL_VAULT, QUICK_VAULT } from './edited-vault.js';
import { runFirstSyncLoad, type FirstSyncFigures, type PullRun } from './first-sync-load.js';
import { say, type BenchOptions, type Section, type SectionResult } from './section.js';
import { percentile } from './stats.js';

const OWN_BINARY = new URL('../../bin/verstak-sync-server', import.meta.url).pathname;
const PASSES = 3;
const MiB = 1024 * 1024;

type Row = { what: string; ours: string; today: string };

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const median = (runs: readonly PullRun[], pick: (r: PullRun) => number | undefined) => {
  const values = runs.map(pick).filter((v): v is number => v !== undefined);
  return values.length === runs.length ? percentile(values, 50) : undefined;
};

/** The rows of one kind of pull: ops, MiB and pages are the same in every pass. */
function pullRows(label: string, ours: readonly PullRun[], today: readonly PullRun[] = []): Row[] {
  const cell = (runs: readonly PullRun[], value: (runs: readonly PullRun[]) => string) =>
    runs.length === 0 ? '' : value(runs);
  const row = (what: string, value: (runs: readonly PullRun[]) => string): Row => ({
    what: `${label}: ${what}`,
    ours: cell(ours, value),
    today: cell(today, value),
  });
  const medianOf = (pick: (r: PullRun) => number | undefined) => (runs: readonly PullRun[]) =>
    median(runs, pick)?.toFixed(3) ?? 'n/a';
  const seconds = medianOf((r) => r.seconds);
  const serverCpu = medianOf((r) => r.serverCpuSeconds);
  return [
    row('ops received', (runs) => count(runs[0]!.ops)),
    row('MiB received', (runs) => (runs[0]!.bytes / MiB).toFixed(2)),
    row(`pages (default size, ${DEFAULT_PULL_PAGE})`, (runs) => count(runs[0]!.pages)),
    row(`seconds (median of ${PASSES})`, seconds),
    row(`server CPU s (median of ${PASSES})`, serverCpu),
  ];
}

async function run(options: BenchOptions): Promise<SectionResult> {
  const shape = options.quick ? QUICK_VAULT : FULL_VAULT;
  const { ops, expected } = editedVault(shape);
  const vault = { shape, ops, expected };
  const live = expected.state.size;
  const binary = options.server ?? OWN_BINARY;
  say(`first-sync: ${count(ops.length)} ops, ${count(live)} live paths; pushing to our server`);
  const ours = await runFirstSyncLoad(binary, vault, {
    passes: PASSES,
    firstSyncOps: live,
    historyOps: expected.kept,
    verify: true,
  });
  let today: FirstSyncFigures | undefined;
  if (options.baseline) {
    say('first-sync: the same vault on the baseline server');
    today = await runFirstSyncLoad(options.baseline, vault, {
      passes: PASSES,
      // Before first syncs, a new device gets the whole log.
      firstSyncOps: ops.length,
      historyOps: undefined,
      verify: false,
    });
  }
  const seeding = (f: FirstSyncFigures) =>
    `${f.seedSeconds.toFixed(1)} (${count(ops.length / f.seedSeconds)} ops/s)`;
  const rows: Row[] = [
    ...pullRows("new device's first sync", ours.firstSyncs, today?.firstSyncs),
    ...pullRows('device past its first sync, pull from 0', ours.history),
    { what: 'seeding over HTTP, s', ours: seeding(ours), today: today ? seeding(today) : '' },
    {
      what: 'server RSS MiB at end',
      ours: String(ours.serverRssMiB),
      today: today ? String(today.serverRssMiB) : '',
    },
  ];
  return {
    name: 'first-sync',
    title: "A new device's first sync of a heavily edited vault (the built server on loopback)",
    notes: [
      `vault: ${count(shape.folders)} folders, ${count(shape.notes)} notes of ~1 KiB, then updates spread over the live notes with ${count(shape.deletes)} deletes and ${count(shape.recreates)} re-creates mixed in: ${count(ops.length)} desktop-shaped ops (entity_id = path), pushed in ${shape.batch}-op batches by ${shape.devices} devices taking turns, one push at a time (the same log on every server)`,
      `expected: ${count(live)} live paths (files and folders) for a first sync; ${count(expected.kept)} ops not superseded for a pull from 0 past it; checked, and the first pass of each replayed against the final state`,
      `first sync: ${PASSES} new devices, one after the other, each pulling from 0 to has_more: false without page_limit; then each is checked to be up to date`,
      'device past its first sync: pulled once while the vault was empty, then pulls from 0 after the pushes, ' +
        `${PASSES} passes`,
      'pull client: HTTP/1.1 on one keep-alive socket (scripts/bench/raw-http.ts), each page checked like the desktop does; MiB are response bodies; server CPU: all threads of the server process (/proc schedstat)',
      ...(options.server ? [`ours: ${options.server}`] : []),
      ...(options.baseline ? [`today: ${options.baseline}, the same client and vault`] : []),
    ],
    columns: [
      { key: 'what', label: 'measure', format: 'text' },
      { key: 'ours', label: 'ours', format: 'text' },
      ...(today ? [{ key: 'today', label: 'today', format: 'text' as const }] : []),
    ],
    rows,
  };
}

export const firstSyncSection: Section = {
  name: 'first-sync',
  description:
    "a new device's first sync of a 100k-op edited vault over HTTP (--baseline: beside another build)",
  run,
};
