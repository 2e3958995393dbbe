/**
 * One section's messages in both languages, kept beside each other so that a section can
 * be added without touching the others; en.ts and ru.ts spread every part. The Russian
 * must name exactly the English keys (a missing one is a type error, an extra one fails
 * the catalog test).
 */
export const messagesPart = <const E extends Readonly<Record<string, string>>>(
  en: E,
  ru: { readonly [K in keyof E]: string },
) => ({ en, ru });
