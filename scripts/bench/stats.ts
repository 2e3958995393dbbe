import { readFileSync } from 'node:fs';

/** Nearest-rank percentile of a sample, in its own unit; 0 for an empty sample. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return 0;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * Measures `work` by wall clock and by this process's CPU time: when CPU is well below
 * 100% the time went to fsync, I/O or other processes, not to our code.
 */
export function timed<T>(work: () => T): Timed<T> {
  const cpu0 = process.cpuUsage();
  const written0 = bytesWritten();
  const t0 = performance.now();
  const value = work();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const written1 = bytesWritten();
  return {
    value,
    ms,
    cpuPercent: ms > 0 ? (cpu.user + cpu.system) / 10 / ms : 0,
    writtenMiB:
      written0 === undefined || written1 === undefined ? NaN : (written1 - written0) / MiB,
  };
}

export interface Timed<T> {
  readonly value: T;
  readonly ms: number;
  readonly cpuPercent: number;
  /** Bytes this process caused to be written to storage (NaN where Linux's /proc is absent). */
  readonly writtenMiB: number;
}

const MiB = 1024 * 1024;

function bytesWritten(): number | undefined {
  try {
    const match = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
