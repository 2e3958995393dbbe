const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function humanBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

const clock = (seconds: number) => {
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
};

export type ByteProgress = (done: number, total: number) => void;

/**
 * Progress of byte-sized work on stderr: on a terminal a line redrawn at most five times a
 * second with the bytes done, the total and an estimate of the time left; otherwise a line
 * every 10%, so logs of a scheduled backup stay short.
 */
export function byteProgress(
  label: string,
  out: NodeJS.WriteStream = process.stderr,
): ByteProgress {
  const started = performance.now();
  let lastDraw = 0;
  let lastDecile = -1;
  let finished = false;
  return (done, total) => {
    if (finished || total <= 0) return;
    const ratio = Math.min(1, done / total);
    const complete = done >= total;
    if (!out.isTTY) {
      const decile = Math.floor(ratio * 10);
      if (decile === lastDecile) return;
      lastDecile = decile;
      out.write(`${label}: ${humanBytes(done)} of ${humanBytes(total)}\n`);
      finished = complete;
      return;
    }
    const now = performance.now();
    if (!complete && now - lastDraw < 200) return;
    lastDraw = now;
    const elapsed = (now - started) / 1000;
    const eta = done > 0 ? (elapsed * (total - done)) / done : Number.NaN;
    const tail = complete
      ? `done in ${clock(elapsed)}`
      : `ETA ${Number.isFinite(eta) ? clock(eta) : '?'}`;
    out.write(
      `\r\x1b[K${label} ${humanBytes(done)} / ${humanBytes(total)} ${Math.floor(ratio * 100)}% ${tail}`,
    );
    if (complete) {
      out.write('\n');
      finished = true;
    }
  };
}
