import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { escapeUnsafe, hasUnsafeChars, terminalSafeJson } from '../../src/security/text-hygiene.js';

// Every character the module must neutralise, one per family it names.
const UNSAFE = [
  '\u0000',
  '\u0007',
  '\b',
  '\t',
  '\n',
  '\r',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u009b',
  '\u061c',
  '\u200e',
  '\u200f',
  '\u2028',
  '\u2029',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2069',
];
const UNSAFE_CLASS =
  '[\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]';
const UNSAFE_RE = new RegExp(UNSAFE_CLASS);

describe('escapeUnsafe', () => {
  it('shows each control and direction character as a visible escape', () => {
    expect(escapeUnsafe('a\u001b[31mred\u0007\r\n\tz')).toBe('a\\x1b[31mred\\x07\\r\\n\\tz');
    expect(escapeUnsafe('\u009b2J\u007f')).toBe('\\x9b2J\\x7f');
    expect(escapeUnsafe('user\u202egnp.exe\u2066x\u2069\u200e')).toBe(
      'user\\u202egnp.exe\\u2066x\\u2069\\u200e',
    );
    for (const ch of UNSAFE) {
      expect(hasUnsafeChars(ch)).toBe(true);
      expect(UNSAFE_RE.test(escapeUnsafe(`x${ch}y`))).toBe(false);
    }
  });

  it('leaves ordinary text alone, other scripts and emoji included', () => {
    for (const s of ['alice', 'Иван Петров', 'ａｌｉｃｅ', 'مرحبا', 'C:\\path', '👩‍💻', 'tab-free']) {
      expect(hasUnsafeChars(s)).toBe(false);
      expect(escapeUnsafe(s)).toBe(s);
    }
  });

  test.prop([fc.string({ unit: 'binary', maxLength: 60 })])(
    'never lets an unsafe character through',
    (s) => {
      expect(UNSAFE_RE.test(escapeUnsafe(s))).toBe(false);
    },
  );
});

describe('terminalSafeJson', () => {
  test.prop([fc.jsonValue()])('parses back to the very same value', (value) => {
    expect(JSON.parse(terminalSafeJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
  });

  test.prop([fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }))])(
    'holds no raw unsafe character, whatever the strings hold',
    (value) => {
      const json = terminalSafeJson(value);
      expect(UNSAFE_RE.test(json)).toBe(false);
      expect(JSON.parse(json)).toEqual(value);
    },
  );

  it('writes what JSON.stringify leaves raw as \\u escapes', () => {
    const value = { login: 'a\u001b\u0085\u202e\u2028\u007fb' };
    expect(JSON.stringify(value)).toContain('\u202e');
    expect(terminalSafeJson(value)).toBe('{"login":"a\\u001b\\u0085\\u202e\\u2028\\u007fb"}');
  });
});
