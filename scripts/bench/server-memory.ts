import { readFileSync } from 'node:fs';

/** A `Vm*` field of /proc/PID/status in MiB (one decimal); undefined once the process is gone. */
export function procStatusMiB(
  pid: number | undefined,
  field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile',
): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1];
    return kb === undefined ? undefined : Math.round((Number(kb) / 1024) * 10) / 10;
  } catch {
    return undefined;
  }
}

/**
 * The server's RSS once it has been left alone for `restMs`: V8 shrinks its heap and young
 * generation only some seconds after allocation stops (its memory reducer starts 8 s after
 * the last activity), so a reading taken at once would show the load, not the rest.
 */
export async function restingRssMiB(pid: number | undefined, restMs: number) {
  await new Promise((r) => setTimeout(r, restMs));
  return procStatusMiB(pid, 'VmRSS');
}

/**
 * The anonymous part of the server's RSS (RssAnon): its heaps, V8's and malloc's, which only
 * the server can shrink. The rest (RssFile) is pages of the node binary and its libraries,
 * the same for any node process that ran as much code, and dropped by the kernel under
 * memory pressure.
 */
export function anonRssMiB(pid: number | undefined) {
  return procStatusMiB(pid, 'RssAnon');
}
