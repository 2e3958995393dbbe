// Text that came from outside (a login typed by anyone, a registrant's e-mail) reaches the
// operator's terminal through the CLI. These characters act on the terminal or on how text
// reads instead of showing as themselves: C0 controls and DEL (ESC starts escape sequences,
// CR rewrites a line, BEL rings), C1 controls (U+009B is a one-byte CSI for some terminals),
// the line and paragraph separators, and the bidi controls that reorder what follows
// (U+202E shows `gpj.exe` as `exe.jpg`).
const UNSAFE_SOURCE =
  '[\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]';

const UNSAFE = new RegExp(UNSAFE_SOURCE);
const UNSAFE_ALL = new RegExp(UNSAFE_SOURCE, 'g');
// JSON.stringify already writes C0 as escapes; these are the rest, which it leaves raw.
const RAW_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const hex = (ch: string, width: number) => ch.charCodeAt(0).toString(16).padStart(width, '0');

/** True when `text` holds a character that would act on a terminal or reorder text. */
export const hasUnsafeChars = (text: string): boolean => UNSAFE.test(text);

/**
 * `text` with every unsafe character shown as an escape (`\x1b`, `\n`, `\u202e`), so what
 * the operator sees is what is stored. A backslash stays as it is: it does nothing to a
 * terminal.
 */
export const escapeUnsafe = (text: string): string =>
  text.replace(
    UNSAFE_ALL,
    (ch) => NAMED[ch] ?? (ch.charCodeAt(0) < 0x100 ? `\\x${hex(ch, 2)}` : `\\u${hex(ch, 4)}`),
  );

/**
 * `JSON.stringify(value)` with the unsafe characters it leaves raw written as `\uXXXX`
 * escapes: the same value for any JSON parser, harmless on a terminal. Those characters
 * can only stand inside strings in JSON text, where an escape means the same character.
 */
export const terminalSafeJson = (value: unknown): string =>
  (JSON.stringify(value) ?? 'null').replace(RAW_IN_JSON, (ch) => `\\u${hex(ch, 4)}`);
