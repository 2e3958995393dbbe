import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

const MiB = 1024 * 1024;
const BOUNDARY = 'verstakblobbench';

export interface BlobBenchResult {
  readonly sizeMiB: number;
  readonly sha256: string;
  readonly uploadSeconds: number;
  readonly uploadMiBps: number;
  readonly downloadSeconds: number;
  readonly downloadMiBps: number;
  /** The downloaded bytes hashed to the uploaded digest. */
  readonly verified: boolean;
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

/** Uploads `sizeMiB` MiB of fresh content as the desktop does, one MiB per write. */
function upload(
  url: URL,
  token: string,
  sizeMiB: number,
): Promise<{ sha256: string; answer: string }> {
  const head = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  return new Promise((resolve, reject) => {
    const req = request(new URL('/api/v1/blobs/', url), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'content-length': String(head.length + sizeMiB * MiB + tail.length),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let answer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (answer += chunk));
      res.on('end', () =>
        res.statusCode === 200
          ? resolve({ sha256: hash.digest('hex'), answer })
          : reject(new Error(`upload answered ${res.statusCode}: ${answer}`)),
      );
    });
    let sent = 0;
    const pump = () => {
      while (sent < sizeMiB) {
        // Each MiB differs, so the content is new to the server on every run.
        block.writeUInt32LE(sent, 0);
        hash.update(block);
        sent++;
        if (!req.write(Buffer.from(block))) {
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

function download(
  url: URL,
  token: string,
  sha256: string,
): Promise<{ sha256: string; size: number }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/api/v1/blobs/${sha256}`, url), {
      headers: { authorization: `Bearer ${token}` },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`download answered ${res.statusCode}`));
        return;
      }
      const hash = createHash('sha256');
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
      });
      res.on('end', () => resolve({ sha256: hash.digest('hex'), size }));
      res.on('error', reject);
    });
    req.end();
  });
}

/**
 * Uploads and downloads one blob of `sizeMiB` MiB against a running server with a paired
 * device's token, and reports throughput and, given the server's pid, its resident memory.
 */
export async function runBlobBench(
  baseUrl: string,
  token: string,
  sizeMiB: number,
  options: { serverPid?: number } = {},
): Promise<BlobBenchResult> {
  const url = new URL(baseUrl);
  const { serverPid } = options;
  const before = serverPid ? rssMiB(serverPid) : 0;
  let peak = before;
  const sampler = serverPid
    ? setInterval(() => (peak = Math.max(peak, rssMiB(serverPid))), 50)
    : undefined;
  try {
    const t0 = performance.now();
    const sent = await upload(url, token, sizeMiB);
    const t1 = performance.now();
    const received = await download(url, token, sent.sha256);
    const t2 = performance.now();
    const seconds = (ms: number) => Math.round(ms) / 1000;
    const rate = (ms: number) => Math.round((sizeMiB / (ms / 1000)) * 10) / 10;
    return {
      sizeMiB,
      sha256: sent.sha256,
      uploadSeconds: seconds(t1 - t0),
      uploadMiBps: rate(t1 - t0),
      downloadSeconds: seconds(t2 - t1),
      downloadMiBps: rate(t2 - t1),
      verified: received.sha256 === sent.sha256 && received.size === sizeMiB * MiB,
      serverRssMiB: serverPid ? { before, peak, after: rssMiB(serverPid) } : null,
    };
  } finally {
    clearInterval(sampler);
  }
}
