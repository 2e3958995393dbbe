/**
 * Progress for long operator work: a redrawn bar on a terminal, a line every 10% when
 * stderr is a file or a pipe (so logs stay readable).
 */
export function stderrProgress(label: string) {
  const tty = process.stderr.isTTY;
  let lastDecile = -1;
  return (done: number, total: number) => {
    if (total <= 0) return;
    const ratio = Math.min(1, done / total);
    if (tty) {
      const width = 30;
      const filled = Math.round(ratio * width);
      process.stderr.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`,
      );
      if (done >= total) process.stderr.write('\n');
      return;
    }
    const decile = Math.floor(ratio * 10);
    if (decile !== lastDecile) {
      lastDecile = decile;
      process.stderr.write(`${label}: ${done}/${total}\n`);
    }
  };
}
