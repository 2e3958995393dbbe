import type { Locale } from '../../http/locale.js';
import { en, type MessageKey, type Messages } from './en.js';
import { ru } from './ru.js';

export type { MessageKey, Messages };

export const CATALOGS: Readonly<Record<Locale, Messages>> = { en, ru };

export type Translate = (key: MessageKey, params?: Readonly<Record<string, string>>) => string;

/**
 * A translator for one locale. Placeholders are `{name}`; values are substituted as plain
 * text and escaped by the template like any other value.
 */
export function translator(locale: Locale): Translate {
  const messages = CATALOGS[locale];
  return (key, params) => {
    const text = messages[key];
    return params ? text.replace(/\{(\w+)\}/g, (m, name: string) => params[name] ?? m) : text;
  };
}
