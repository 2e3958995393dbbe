import { escapeUnsafe, terminalSafeJson } from '../security/text-hygiene.js';

// Everything a command prints goes through here, because stored text (a login typed by
// anyone, a registrant's e-mail) must never act on the operator's terminal: values are
// shown with their control and direction characters escaped (text-hygiene.ts). A test
// keeps process.stdout.write out of the other files of src/cli.

// The line breaks of the printed text itself stay; any other unsafe character is escaped.
const escapeKeepingLines = (text: string) => text.split('\n').map(escapeUnsafe).join('\n');

/** Writes `text` to stdout, every unsafe character but its line breaks escaped. */
export function printOut(text: string): void {
  process.stdout.write(escapeKeepingLines(text));
}

/** As printOut, for stderr: warnings and prompts that name stored things. */
export function printErr(text: string): void {
  process.stderr.write(escapeKeepingLines(text));
}

/**
 * A template whose values are escaped in full, line breaks included, so a value cannot
 * start a line of its own: `` text`deleted user ${user.username}\n` ``.
 */
export function text(parts: TemplateStringsArray, ...values: unknown[]): string {
  return parts.reduce((out, part, i) => `${out}${escapeUnsafe(String(values[i - 1]))}${part}`);
}

/**
 * Writes one JSON value per line: the machine-readable form of every operator command.
 * The value is exact; characters JSON.stringify leaves raw but a terminal obeys are
 * written as \u escapes, which mean the same to any parser.
 */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${terminalSafeJson(value)}\n`);
}

/**
 * One row of columns padded to `widths` (the last cell is not padded), its cells escaped
 * first, so the widths are those of what is shown.
 */
export function formatTableLine(
  cells: readonly string[],
  widths: readonly number[],
  separator = '  ',
): string {
  const last = cells.length - 1;
  const shown = cells.map((c, i) =>
    i === last ? escapeUnsafe(c) : escapeUnsafe(c).padEnd(widths[i] ?? 0),
  );
  return `${shown.join(separator)}\n`;
}

/** Left-aligned columns as wide as their widest cell; the last column is not padded. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => escapeUnsafe(r[i] ?? '').length)),
  );
  return [header, ...rows].map((r) => `${formatTableLine(r, widths).trimEnd()}\n`).join('');
}
