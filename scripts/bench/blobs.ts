import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { rawDownload } from './raw-download.js';

const MiB = 1024 * 1024;
const BOUNDARY = 'verstakblobbench';

export interface BlobBenchResult {
  readonly sizeMiB: number;
  readonly sha256: string;
  readonly uploadSeconds: number;
  readonly uploadMiBps: number;
  /** From the last byte sent to the answer: staging fsync, placing the file, recording it. */
  readonly uploadTailMs: number;
  readonly downloadSeconds: number;
  readonly downloadMiBps: number;
  /** The server answered the upload's digest and size, and the download hashed to it. */
  readonly verified: boolean;
  /** CPU (user + system) spent by this client and, given its pid, the server, per phase. */
  readonly cpuSeconds: {
    readonly clientUpload: number;
    readonly clientDownload: number;
    readonly serverUpload: number | null;
    readonly serverDownload: number | null;
  };
  /** Resident memory of the server process, when its pid was given (Linux /proc). */
  readonly serverRssMiB: {
    readonly before: number;
    readonly peak: number;
    readonly after: number;
  } | null;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return Math.round((kib / 1024) * 10) / 10;
}

// USER_HZ: the unit of utime/stime in /proc/<pid>/stat on Linux.
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) the process has used so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

const ownCpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/**
 * The content: MiB `i` is a 4-byte little-endian `i` followed by the same random tail, so
 * every MiB differs (the content is new to the server on every run) while nothing is copied.
 */
function content(sizeMiB: number) {
  const tail = randomBytes(MiB - 4);
  const prefix = (i: number) => {
    const bytes = Buffer.allocUnsafe(4);
    bytes.writeUInt32LE(i, 0);
    return bytes;
  };
  // The desktop knows a file's digest before it uploads it; so does this client.
  const hash = createHash('sha256');
  for (let i = 0; i < sizeMiB; i++) hash.update(prefix(i)).update(tail);
  return { tail, prefix, sha256: hash.digest('hex') };
}

/** Uploads `sizeMiB` MiB as one multipart file part, one MiB per write; returns the answer. */
function upload(
  url: URL,
  token: string,
  sizeMiB: number,
  body: ReturnType<typeof content>,
): Promise<{ sha256: string; size: number; sentAt: number }> {
  const head = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  return new Promise((resolve, reject) => {
    const req = request(new URL('/api/v1/blobs/', url), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'content-length': String(head.length + sizeMiB * MiB + tail.length),
      },
    });
    let sentAt = 0;
    req.on('error', reject);
    req.on('finish', () => (sentAt = performance.now()));
    req.on('response', (res) => {
      let answer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (answer += chunk));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve({ ...(JSON.parse(answer) as { sha256: string; size: number }), sentAt })
          : reject(new Error(`upload answered ${res.statusCode}: ${answer}`)),
      );
    });
    let sent = 0;
    const pump = () => {
      while (sent < sizeMiB) {
        req.write(body.prefix(sent));
        sent++;
        if (!req.write(body.tail)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end(tail);
    };
    req.write(head);
    pump();
  });
}

/**
 * Waits (up to `maxMs`) until neither this process nor the server is still busy with
 * start-up work (the fixture's hashing and SQLite, lazy compilation, garbage collection):
 * that work would otherwise land inside the first timed transfer.
 */
async function settle(serverPid: number | undefined, maxMs = 3000): Promise<void> {
  const windowMs = 100;
  const busy = (cpuSeconds: number) => cpuSeconds > (windowMs / 1000) * 0.1;
  const deadline = performance.now() + maxMs;
  while (performance.now() < deadline) {
    const before = [ownCpuSeconds(), serverPid ? cpuSeconds(serverPid) : 0] as const;
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const client = ownCpuSeconds() - before[0];
    const server = serverPid ? cpuSeconds(serverPid) - before[1] : 0;
    if (!busy(client) && !busy(server)) return;
  }
}

/**
 * Uploads and downloads one blob of `sizeMiB` MiB against a running server with a paired
 * device's token, and reports throughput, the CPU each side spent, and, given the server's
 * pid, its resident memory and CPU. The download is hashed as it arrives and verified.
 */
export async function runBlobBench(
  baseUrl: string,
  token: string,
  sizeMiB: number,
  options: { serverPid?: number } = {},
): Promise<BlobBenchResult> {
  const url = new URL(baseUrl);
  const { serverPid } = options;
  const body = content(sizeMiB);
  const before = serverPid ? rssMiB(serverPid) : 0;
  let peak = before;
  const sampler = serverPid
    ? setInterval(() => (peak = Math.max(peak, rssMiB(serverPid))), 50)
    : undefined;
  const serverCpu = () => (serverPid ? cpuSeconds(serverPid) : 0);
  await settle(serverPid);
  try {
    const cpu0 = [ownCpuSeconds(), serverCpu()] as const;
    const t0 = performance.now();
    const answer = await upload(url, token, sizeMiB, body);
    const t1 = performance.now();
    const cpu1 = [ownCpuSeconds(), serverCpu()] as const;
    const received = await rawDownload(url, `/api/v1/blobs/${body.sha256}`, token);
    const t2 = performance.now();
    const cpu2 = [ownCpuSeconds(), serverCpu()] as const;
    if (received.status !== 200) throw new Error(`download answered ${received.status}`);
    const seconds = (ms: number) => Math.round(ms) / 1000;
    const rate = (ms: number) => Math.round((sizeMiB / (ms / 1000)) * 10) / 10;
    const cpu = (a: number, b: number) => Math.round((b - a) * 100) / 100;
    const bytes = sizeMiB * MiB;
    return {
      sizeMiB,
      sha256: body.sha256,
      uploadSeconds: seconds(t1 - t0),
      uploadMiBps: rate(t1 - t0),
      uploadTailMs: Math.round(t1 - answer.sentAt),
      downloadSeconds: seconds(t2 - t1),
      downloadMiBps: rate(t2 - t1),
      verified:
        answer.sha256 === body.sha256 &&
        answer.size === bytes &&
        received.sha256 === body.sha256 &&
        received.size === bytes &&
        received.contentLength === bytes,
      cpuSeconds: {
        clientUpload: cpu(cpu0[0], cpu1[0]),
        clientDownload: cpu(cpu1[0], cpu2[0]),
        serverUpload: serverPid ? cpu(cpu0[1], cpu1[1]) : null,
        serverDownload: serverPid ? cpu(cpu1[1], cpu2[1]) : null,
      },
      serverRssMiB: serverPid ? { before, peak, after: rssMiB(serverPid) } : null,
    };
  } finally {
    clearInterval(sampler);
  }
}
