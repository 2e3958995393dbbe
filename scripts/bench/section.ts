/** What every benchmark section shares: its options, its result shape and a progress sink. */

export interface BenchOptions {
  readonly quick: boolean;
  /** Log sizes measured, ascending; the last is the largest the run will build. */
  readonly sizes: readonly number[];
  /** Upper bound of one timed window. */
  readonly windowMs: number;
  /** Events appended to one stream before the next is opened (1: a stream per event). */
  readonly eventsPerStream: number;
  /** Size of the benchmarked blob; undefined: the section's default. */
  readonly blobMiB?: number;
  /** sync: only push (to fill the vault) and pull, each pull pass repeated; no blob part. */
  readonly pullOnly: boolean;
  /** sync: the built server entry to start instead of this build's (an A/B against another build). */
  readonly server: string | undefined;
  /** first-sync: another build's server entry, measured beside ours on the same vault. */
  readonly baseline: string | undefined;
  /** web: the fraction of the full data set seeded (1: 10k users, 1M ops). */
  readonly scale: number;
  /** web: timed requests per route (after two untimed ones). */
  readonly rounds: number;
}

export type Cell = string | number;

export interface Column {
  readonly key: string;
  readonly label: string;
  readonly format?: 'count' | 'rate' | 'ms' | 'seconds' | 'decimal' | 'text';
}

export interface SectionResult {
  readonly name: string;
  readonly title: string;
  readonly notes: readonly string[];
  readonly columns: readonly Column[];
  readonly rows: readonly Record<string, Cell>[];
}

export interface Section {
  readonly name: string;
  readonly description: string;
  run(options: BenchOptions): Promise<SectionResult>;
}

export const say = (message: string) => process.stderr.write(`bench: ${message}\n`);
