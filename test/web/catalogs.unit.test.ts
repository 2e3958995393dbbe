import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VIEWS_DIR } from '../../src/web/assets.js';
import { CATALOGS, translator } from '../../src/web/i18n/index.js';

// Templates name their messages as strings, which the type checker cannot see: every
// t('key') in views/ must exist in every catalog, and the catalogs must hold the same keys.

function templates(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? templates(join(dir, entry.name))
      : entry.name.endsWith('.eta')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** The message keys a template uses: it.t('key') and it.t('key', {…}). */
function keysUsedBy(source: string): string[] {
  return [...source.matchAll(/\bt\(\s*'([^']+)'/g)].map((m) => m[1]!);
}

describe('the message catalogs', () => {
  it('hold the same keys in English and Russian, none empty', () => {
    const en = Object.keys(CATALOGS.en).sort();
    expect(Object.keys(CATALOGS.ru).sort()).toEqual(en);
    for (const [locale, messages] of Object.entries(CATALOGS)) {
      for (const [key, text] of Object.entries(messages)) {
        expect(text.trim(), `${locale}.${key}`).not.toBe('');
      }
    }
  });

  it('have every key a template uses', () => {
    const files = templates(VIEWS_DIR);
    expect(files.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      // A key built at run time could not be checked here; templates must name them.
      expect(source, file).not.toMatch(/\bt\(\s*[^'\s)]/);
      for (const key of keysUsedBy(source)) {
        for (const [locale, messages] of Object.entries(CATALOGS)) {
          if (!(key in messages)) missing.push(`${relative(VIEWS_DIR, file)}: ${locale}.${key}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('keep the same placeholders in both languages', () => {
    const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(CATALOGS.en) as (keyof typeof CATALOGS.en)[]) {
      expect(placeholders(CATALOGS.ru[key]), key).toEqual(placeholders(CATALOGS.en[key]));
    }
  });

  it('finds a missing key (the check itself works)', () => {
    expect(keysUsedBy(`<%= it.t('noSuchKey') %> <%= it.t( 'homeTitle', { a: 1 }) %>`)).toEqual([
      'noSuchKey',
      'homeTitle',
    ]);
    expect('noSuchKey' in CATALOGS.en).toBe(false);
    expect(translator('ru')('homeSignedIn', { username: 'ann' })).toBe('Вы вошли как ann.');
  });
});
