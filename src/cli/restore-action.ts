import { resolve } from 'node:path';
import { byteProgress, type ByteProgress } from '../backup/byte-progress.js';
import { restoreBackup, type RestorePhase } from '../backup/restore-backup.js';
import { dataDirOf } from './options.js';
import { printErr, printJsonLine, printOut } from './output.js';
import { stderrProgress } from './progress.js';

function phasedProgress() {
  const bars = new Map<RestorePhase, ByteProgress>();
  return (phase: RestorePhase, done: number, total: number) => {
    let bar = bars.get(phase);
    if (!bar) {
      // Unpacking counts bytes; the log checks count events.
      bar =
        phase === 'unpack'
          ? byteProgress('checking and unpacking')
          : stderrProgress(phase === 'replay' ? 'replaying' : 'verifying');
      bars.set(phase, bar);
    }
    bar(done, total);
  };
}

export async function restore(opts: {
  data?: string;
  from: string;
  force?: boolean;
  json?: boolean;
}): Promise<void> {
  const summary = await restoreBackup({
    archive: resolve(opts.from),
    dataDir: dataDirOf(opts),
    force: opts.force ?? false,
    onProgress: phasedProgress(),
  });
  if (summary.missing_blobs > 0) {
    printErr(
      `warning: the backup lacked ${summary.missing_blobs} blob file(s) already (see missing_blobs in its manifest)\n`,
    );
  }
  if (opts.json) {
    printJsonLine(summary);
    return;
  }
  printOut(
    `restored ${summary.events} events (head seq ${summary.head_seq}) into ${summary.data_dir}; ` +
      `new epoch ${summary.epoch}, the next event gets seq ${summary.resumed_after + 1}\n` +
      (summary.kept_aside ? `the previous directory is kept at ${summary.kept_aside}\n` : ''),
  );
}
