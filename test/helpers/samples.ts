// Small statistics for tests that compare latency distributions (no wall-clock thresholds:
// only how two interleaved samples differ from each other).

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The two-sample Kolmogorov–Smirnov statistic: the largest gap between the two empirical
 * distribution functions, 0 for identical samples, 1 for samples that do not overlap.
 */
export function ksStatistic(a: readonly number[], b: readonly number[]): number {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let gap = 0;
  while (i < x.length && j < y.length) {
    const value = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= value) i++;
    while (j < y.length && y[j]! <= value) j++;
    gap = Math.max(gap, Math.abs(i / x.length - j / y.length));
  }
  return gap;
}

/** A Fisher–Yates shuffle: the order of a timing run must not favour either kind. */
export function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Mann–Whitney's common-language effect size: the chance that a value drawn from `a`
 * exceeds one drawn from `b` (ties count half). 0.5 when neither tends to be larger.
 */
export function superiority(a: readonly number[], b: readonly number[]): number {
  const y = [...b].sort((p, q) => p - q);
  let wins = 0;
  for (const value of a) {
    let below = 0;
    let equal = 0;
    for (const other of y) {
      if (other < value) below++;
      else if (other === value) equal++;
      else break;
    }
    wins += below + equal / 2;
  }
  return wins / (a.length * b.length);
}

/** The Hodges–Lehmann shift: the median of every difference a[i] − b[j]. */
export function medianShift(a: readonly number[], b: readonly number[]): number {
  return median(a.flatMap((x) => b.map((y) => x - y)));
}

/**
 * The Wilcoxon signed-rank statistic of paired differences, as a z-score: near 0 when the
 * differences are symmetric about zero (no shift), far from it when one side tends to be
 * larger. Distribution-free, so it needs no assumption about how noisy the machine is.
 */
export function signedRankZ(differences: readonly number[]): number {
  const d = differences.filter((x) => x !== 0).sort((a, b) => Math.abs(a) - Math.abs(b));
  const n = d.length;
  if (n === 0) return 0;
  let positive = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && Math.abs(d[j + 1]!) === Math.abs(d[i]!)) j++;
    const rank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) if (d[k]! > 0) positive += rank;
    i = j + 1;
  }
  const mean = (n * (n + 1)) / 4;
  const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24);
  return (positive - mean) / sd;
}
