import { cpus, loadavg, totalmem } from 'node:os';
import type { Cell, Column, SectionResult } from './section.js';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly sqlite: string;
  readonly tmpFileSystem: string;
  readonly fsyncP50Ms: number;
  /** 1-minute load average at the start: other work on the machine skews every figure. */
  readonly loadAverage: number;
}

export function describeMachine(
  sqlite: string,
  tmpFileSystem: string,
  fsyncP50Ms: number,
): Machine {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    sqlite,
    tmpFileSystem,
    fsyncP50Ms,
    loadAverage: loadavg()[0] ?? 0,
  };
}

const grouped = (n: number) => Math.round(n).toLocaleString('en-US');

function formatCell(value: Cell | undefined, format: Column['format']): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return '-';
  switch (format) {
    case 'ms':
      return value < 10 ? value.toFixed(2) : value.toFixed(1);
    case 'seconds':
      return value.toFixed(2);
    case 'decimal':
      return value.toFixed(1);
    case 'count':
    case 'rate':
      return grouped(value);
    case 'text':
    case undefined:
      return String(value);
  }
}

/** A plain-text table: text columns left-aligned, figures right-aligned. */
export function renderTable(result: SectionResult): string {
  const header = result.columns.map((c) => c.label);
  const body = result.rows.map((row) =>
    result.columns.map((c) => formatCell(row[c.key], c.format)),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) =>
        result.columns[i]!.format === 'text' && i === 0
          ? cell.padEnd(widths[i]!)
          : cell.padStart(widths[i]!),
      )
      .join('  ');
  return [
    `== ${result.title}`,
    ...result.notes.map((n) => `   ${n}`),
    '',
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...body.map(line),
  ].join('\n');
}

export function renderMachine(m: Machine): string {
  return [
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; node ${m.node}; SQLite ${m.sqlite}`,
    `load average at start: ${m.loadAverage.toFixed(2)}`,
    `temp data directory on: ${m.tmpFileSystem}; 4 KiB write + fdatasync p50 ${m.fsyncP50Ms.toFixed(2)} ms`,
  ].join('\n');
}
