// Cyrillic and Greek letters that render like a Latin letter, mapped to that letter: the
// Cyrillic/Greek → Latin subset of Unicode's confusables.txt (UTS #39, "Unicode Security
// Mechanisms", https://www.unicode.org/Public/security/latest/confusables.txt), both cases,
// kept to the letters that look alike in ordinary sans-serif fonts. A username's skeleton
// replaces them, so `аlice` (Cyrillic а) and `alice` share one. Letters without a Latin
// twin (и, в, л, ж, λ, ω…) stay as they are, so names written in those scripts still differ.
const LOOKALIKES: ReadonlyMap<string, string> = new Map([
  // Cyrillic capitals
  ['\u0405', 'S'], // Ѕ
  ['\u0406', 'I'], // І
  ['\u0408', 'J'], // Ј
  ['\u0410', 'A'], // А
  ['\u0412', 'B'], // В
  ['\u0415', 'E'], // Е
  ['\u041a', 'K'], // К
  ['\u041c', 'M'], // М
  ['\u041d', 'H'], // Н
  ['\u041e', 'O'], // О
  ['\u0420', 'P'], // Р
  ['\u0421', 'C'], // С
  ['\u0422', 'T'], // Т
  ['\u0425', 'X'], // Х
  ['\u04ae', 'Y'], // Ү
  ['\u04c0', 'l'], // Ӏ (palochka)
  ['\u051a', 'Q'], // Ԛ
  ['\u051c', 'W'], // Ԝ
  // Cyrillic small letters
  ['\u0430', 'a'], // а
  ['\u0435', 'e'], // е
  ['\u043e', 'o'], // о
  ['\u0440', 'p'], // р
  ['\u0441', 'c'], // с
  ['\u0443', 'y'], // у
  ['\u0445', 'x'], // х
  ['\u0451', '\u00eb'], // ё → ë
  ['\u0455', 's'], // ѕ
  ['\u0456', 'i'], // і
  ['\u0457', '\u00ef'], // ї → ï
  ['\u0458', 'j'], // ј
  ['\u04bb', 'h'], // һ
  ['\u04cf', 'l'], // ӏ
  ['\u0501', 'd'], // ԁ
  ['\u051b', 'q'], // ԛ
  ['\u051d', 'w'], // ԝ
  // Greek capitals
  ['\u0391', 'A'], // Α
  ['\u0392', 'B'], // Β
  ['\u0395', 'E'], // Ε
  ['\u0396', 'Z'], // Ζ
  ['\u0397', 'H'], // Η
  ['\u0399', 'I'], // Ι
  ['\u039a', 'K'], // Κ
  ['\u039c', 'M'], // Μ
  ['\u039d', 'N'], // Ν
  ['\u039f', 'O'], // Ο
  ['\u03a1', 'P'], // Ρ
  ['\u03a4', 'T'], // Τ
  ['\u03a5', 'Y'], // Υ
  ['\u03a7', 'X'], // Χ
  ['\u03f9', 'C'], // Ϲ (lunate sigma)
  // Greek small letters
  ['\u03b1', 'a'], // α
  ['\u03b3', 'y'], // γ
  ['\u03b9', 'i'], // ι
  ['\u03bd', 'v'], // ν
  ['\u03bf', 'o'], // ο
  ['\u03c1', 'p'], // ρ
  ['\u03c5', 'u'], // υ
  ['\u03f2', 'c'], // ϲ
  ['\u03f3', 'j'], // ϳ
]);

// eslint-disable-next-line no-control-regex -- the whole ASCII range, controls included
const ASCII = /^[\x00-\x7f]*$/;

const replaceLookalikes = (text: string) => {
  let out = '';
  for (const ch of text) out += LOOKALIKES.get(ch) ?? ch;
  return out;
};

// Full case folding, which JavaScript lacks: upper-casing first folds ß to ss, and the
// final sigma, which toLowerCase writes by position, folds to σ like any other.
const caseFold = (text: string) => text.toUpperCase().toLowerCase().replace(/ς/g, 'σ');

/**
 * The form two usernames share when they read alike: NFKC (full-width and other
 * compatibility forms become plain letters), look-alikes replaced in both cases (capital
 * Cyrillic В reads as B, small в does not), case-folded, and look-alikes replaced again
 * for the small letters the fold produced.
 */
export function usernameSkeleton(username: string): string {
  // Most names: NFKC and the table leave ASCII as it is, and its fold is toLowerCase. A
  // replay computes one per registration, and this path is some twenty times cheaper.
  if (ASCII.test(username)) return username.toLowerCase();
  const folded = caseFold(replaceLookalikes(username.normalize('NFKC')));
  return replaceLookalikes(folded).normalize('NFKC');
}
