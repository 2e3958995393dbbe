import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { usernameSkeleton } from '../../src/security/confusables.js';

describe('usernameSkeleton', () => {
  it('gives look-alikes of alice the skeleton of alice', () => {
    for (const name of [
      'alice',
      'ALICE',
      'Alice',
      'ａｌｉｃｅ', // full-width
      '\u0430lice', // Cyrillic а
      'alic\u0435', // Cyrillic е
      '\u0410LICE', // Cyrillic А
      '\u0391LICE', // Greek Α
      '\u0430l\u0456c\u0435', // Cyrillic а, і, е
    ]) {
      expect(usernameSkeleton(name), name).toBe('alice');
    }
  });

  it('reads capitals as capitals: Cyrillic ВОВ is BOB, small вов is not bob', () => {
    expect(usernameSkeleton('\u0412\u041e\u0412')).toBe('bob');
    expect(usernameSkeleton('\u0432\u043e\u0432')).not.toBe('bob');
  });

  it('keeps names in Cyrillic and Greek apart from Latin ones and from each other', () => {
    expect(usernameSkeleton('иван')).not.toBe(usernameSkeleton('ivan'));
    expect(usernameSkeleton('иван')).not.toBe(usernameSkeleton('мария'));
    expect(usernameSkeleton('λόγος')).not.toBe(usernameSkeleton('logos'));
    expect(usernameSkeleton('Иван')).toBe(usernameSkeleton('ИВАН'.toLowerCase()));
  });

  it('folds case fully: ß is ss, a final sigma is sigma', () => {
    expect(usernameSkeleton('Straße')).toBe(usernameSkeleton('STRASSE'));
    expect(usernameSkeleton('ΛΟΓΟΣ')).toBe(usernameSkeleton('λογοσ'));
    expect(usernameSkeleton('λογος')).toBe(usernameSkeleton('λογοσ'));
  });

  // ASCII names take a short cut; one non-ASCII letter sends the same name the long way.
  test.prop([fc.string({ unit: 'grapheme-ascii', maxLength: 40 })])(
    'gives an ASCII name the skeleton the full computation gives it',
    (name) => {
      expect(usernameSkeleton(`${name}ж`)).toBe(`${usernameSkeleton(name)}ж`);
    },
  );
});
