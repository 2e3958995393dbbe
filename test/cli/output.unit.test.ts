import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTable, formatTableLine, text } from '../../src/cli/output.js';
import { ROOT } from './helpers.js';

describe('the printers of output.ts', () => {
  it('escape table cells and pad by what is shown', () => {
    const table = formatTable(
      ['NAME', 'EMAIL'],
      [
        ['eve\u001b[2J', 'eve\r\n@x.test'],
        ['bob', 'bob@x.test'],
      ],
    );
    expect(table).toBe(
      'NAME        EMAIL\neve\\x1b[2J  eve\\r\\n@x.test\nbob         bob@x.test\n',
    );
    expect(formatTableLine(['1', 'a\u202eb'], [3], ' ')).toBe('1   a\\u202eb\n');
  });

  it('escape template values in full, line breaks included, but keep the template’s own', () => {
    expect(text`user ${'x\nfake line\u0007'} done\n`).toBe('user x\\nfake line\\x07 done\n');
    expect(text`${1} and ${'two'}`).toBe('1 and two');
  });

  // The one place that writes to stdout: a command that wrote there itself could print
  // stored text raw.
  it('are the only writers to stdout in src/cli', () => {
    const dir = join(ROOT, 'src/cli');
    const writers = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && f !== 'output.ts')
      .filter((f) => readFileSync(join(dir, f), 'utf8').includes('process.stdout.write'));
    expect(writers).toEqual([]);
  });
});
