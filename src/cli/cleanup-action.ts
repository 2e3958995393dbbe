import type { CleanupReport } from '../commands/cleanup-service.js';
import { withRuntime } from './data-dir.js';
import { formatTable, printJsonLine, printOut } from './output.js';

/** Bytes for people: 1536 → "1.5 KiB". */
function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function describe(report: CleanupReport): string {
  const rows = [
    ['expired sessions', String(report.sessions), ''],
    ['expired e-mail tokens', String(report.emailTokens), ''],
    ['idempotency answers', String(report.pushAnswers), ''],
    ['temp uploads', String(report.tempUploads.count), formatBytes(report.tempUploads.bytes)],
    [
      'unreferenced blob files',
      String(report.blobFiles.count),
      formatBytes(report.blobFiles.bytes),
    ],
  ];
  const verb = report.dryRun ? 'would remove' : 'removed';
  const recorded = report.dryRun
    ? 'dry run: nothing changed\n'
    : report.seq !== undefined
      ? `recorded as event seq ${report.seq}\n`
      : 'nothing to remove\n';
  return formatTable(['KIND', verb.toUpperCase(), 'BYTES'], rows) + recorded;
}

export async function cleanup(opts: {
  data?: string;
  dryRun?: boolean;
  json?: boolean;
}): Promise<void> {
  const report = await withRuntime(opts, (runtime) => {
    const now = runtime.clock.now();
    return opts.dryRun ? runtime.cleanup.plan(now) : runtime.cleanup.run(now, { actor: 'cli' });
  });
  if (opts.json) {
    printJsonLine({
      at: report.at,
      dry_run: report.dryRun,
      sessions: report.sessions,
      email_tokens: report.emailTokens,
      push_answers: report.pushAnswers,
      temp_uploads: report.tempUploads.count,
      temp_upload_bytes: report.tempUploads.bytes,
      blob_files: report.blobFiles.count,
      blob_file_bytes: report.blobFiles.bytes,
      seq: report.seq ?? null,
    });
    return;
  }
  printOut(describe(report));
}
