import { describe, expect, it } from 'vitest';
import { formatDate, formatRelative, formatSize } from '../../src/web/format.js';

// Dates and sizes read naturally in the page's language.

const NOW = new Date('2026-03-01T12:00:00Z');

describe('formatting for the pages', () => {
  it('writes dates in the page language, in UTC', () => {
    expect(formatDate('en', '2026-03-01T09:05:00.000Z')).toBe('Mar 1, 2026, 9:05 AM UTC');
    expect(formatDate('ru', '2026-03-01T09:05:00.000Z')).toBe('1 мар. 2026 г., 09:05 UTC');
    expect(formatDate('en', 'not a date')).toBe('not a date');
  });

  it('says how long ago something happened', () => {
    expect(formatRelative('en', '2026-03-01T09:00:00Z', NOW)).toBe('3 hours ago');
    expect(formatRelative('ru', '2026-03-01T09:00:00Z', NOW)).toBe('3 часа назад');
    expect(formatRelative('en', '2026-02-28T12:00:00Z', NOW)).toBe('yesterday');
    expect(formatRelative('en', '2026-03-01T12:00:00Z', NOW)).toBe('now');
  });

  it('writes sizes in binary steps with the language’s units', () => {
    expect(formatSize('en', 512)).toBe('512 bytes');
    expect(formatSize('ru', 0)).toBe('0 байт');
    expect(formatSize('en', 1536)).toBe('1.5 kB');
    expect(formatSize('ru', 1536)).toBe('1,5 кБ');
    expect(formatSize('en', 5 * 1024 ** 3)).toBe('5 GB');
  });
});
