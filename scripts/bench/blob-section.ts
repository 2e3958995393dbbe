import { runBlobBench } from './blobs.js';
import { say, type BenchOptions, type Section, type SectionResult } from './section.js';
import { startBenchServer } from './sync-load.js';

const BUILT_BINARY = new URL('../../bin/verstak-sync-server', import.meta.url).pathname;

// The original Go server on this machine (the figures), for the side-by-side.
const ORIGINAL = { upload: 140, download: 400 };

/**
 * Only the blob part of the sync section, on its own server: quick to repeat for A/B runs.
 * VSS_BENCH_BINARY points it at another build of the server (the client stays this one).
 */
async function run(options: BenchOptions): Promise<SectionResult> {
  const blobMiB = options.blobMiB ?? (options.quick ? 16 : 100);
  const binary = process.env.VSS_BENCH_BINARY ?? BUILT_BINARY;
  say(`blobs: a ${blobMiB} MiB blob up and down (${binary})`);
  const server = await startBenchServer(binary, 1);
  let blob;
  try {
    blob = await runBlobBench(server.baseUrl, server.tokens[0]!, blobMiB, {
      serverPid: server.child.pid,
    });
    if (!blob.verified) throw new Error('downloaded blob does not match the upload');
  } finally {
    await server.stop();
  }
  const rss = blob.serverRssMiB;
  const cpu = blob.cpuSeconds;
  return {
    name: 'blobs',
    title: 'One blob up and down over HTTP on loopback (the built server as its own process)',
    notes: [
      'the client knows the digest before it uploads (as the desktop does), checks the answer, and hashes the download as it arrives',
      'CPU: user + system seconds of each process during each phase; steadier than MiB/s on a busy machine',
    ],
    columns: [
      { key: 'what', label: 'measure', format: 'text' },
      { key: 'ours', label: 'ours', format: 'text' },
      { key: 'original', label: 'original', format: 'text' },
    ],
    rows: [
      {
        what: `blob upload MiB/s (${blobMiB} MiB)`,
        ours: Math.round(blob.uploadMiBps),
        original: ORIGINAL.upload,
      },
      {
        what: 'upload: ms from the last byte sent to the answer',
        ours: blob.uploadTailMs,
        original: '',
      },
      {
        what: `blob download MiB/s (${blobMiB} MiB)`,
        ours: Math.round(blob.downloadMiBps),
        original: ORIGINAL.download,
      },
      {
        what: 'CPU s, upload: server / client',
        ours: `${cpu.serverUpload ?? 'n/a'} / ${cpu.clientUpload}`,
        original: '',
      },
      {
        what: 'CPU s, download: server / client',
        ours: `${cpu.serverDownload ?? 'n/a'} / ${cpu.clientDownload}`,
        original: '',
      },
      {
        what: 'server RSS MiB (before / peak / after)',
        ours: rss ? `${rss.before} / ${rss.peak} / ${rss.after}` : 'n/a',
        original: '',
      },
    ],
  };
}

export const blobSection: Section = {
  name: 'blobs',
  description: 'one blob (100 MiB; --quick 16; --blob-mib N) up and down over HTTP, server RSS',
  run,
};
