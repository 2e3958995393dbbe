import { resolve } from 'node:path';
import { byteProgress, humanBytes, type ByteProgress } from '../backup/byte-progress.js';
import { createBackup, type BackupPhase } from '../backup/create-backup.js';
import { lowerOwnPriority } from '../backup/low-priority.js';
import { dataDirOf } from './options.js';
import { printErr, printJsonLine, printOut } from './output.js';

const LABELS: Record<BackupPhase, string> = {
  database: 'copying the database',
  blobs: 'checking blobs',
  archive: 'writing the archive',
};

/** One progress line per phase, each with its own bytes and ETA. */
function phasedProgress() {
  const bars = new Map<BackupPhase, ByteProgress>();
  return (phase: BackupPhase, done: number, total: number) => {
    let bar = bars.get(phase);
    if (!bar) bars.set(phase, (bar = byteProgress(LABELS[phase])));
    bar(done, total);
  };
}

export async function backup(opts: {
  data?: string;
  out: string;
  json?: boolean;
  allowMissingBlobs?: boolean;
}): Promise<void> {
  // The server runs beside it: the backup gets the CPU the server leaves.
  lowerOwnPriority();
  const summary = await createBackup({
    dataDir: dataDirOf(opts),
    out: resolve(opts.out),
    allowMissingBlobs: opts.allowMissingBlobs ?? false,
    onProgress: phasedProgress(),
  });
  if (summary.missing_blobs > 0) {
    printErr(
      `warning: ${summary.missing_blobs} blob(s) the database lists have no file and are ` +
        'not in the archive (its manifest lists them as missing_blobs)\n',
    );
  }
  if (opts.json) {
    printJsonLine(summary);
    return;
  }
  printOut(
    `backup written to ${summary.archive} (${humanBytes(summary.archive_bytes)}): ` +
      `log head seq ${summary.head_seq}, ${summary.blobs} blob(s), ` +
      `in ${summary.seconds.toFixed(1)} s\n`,
  );
}
