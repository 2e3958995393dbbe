import { field } from '../forms.js';
import type { MessageKey, Translate } from '../i18n/index.js';

// Query-string parsing and paging shared by the console's lists (CONTRACT.md §9): bad
// values fall back to defaults, never a 500; free text is trimmed to 160 characters.

export const MAX_QUERY = 160;
export const DEFAULT_PER_PAGE = 25;
export const MAX_PER_PAGE = 100;
/** The page sizes a list's select offers. */
export const PER_PAGE_CHOICES = [10, 25, 50, 100] as const;

/** A list's sort select: its whitelisted sorts in their order, each labelled. */
export const sortOptions = <S extends string>(
  t: Translate,
  sorts: Readonly<Record<S, unknown>>,
  labels: Readonly<Record<S, MessageKey>>,
) => (Object.keys(sorts) as S[]).map((value) => ({ value, label: t(labels[value]) }));

/** Whole numbers within bounds; anything else is the default, never a 500. */
export const bounded = (min: number, max: number, fallback: number) =>
  field.transform((v) => {
    const n = /^\d{1,6}$/.test(v.trim()) ? Number(v) : NaN;
    return Number.isInteger(n) && n >= min && n <= max ? n : fallback;
  });
export const oneOf = <T extends string>(values: readonly T[], fallback: T | '') =>
  field.transform((v): T | '' => ((values as readonly string[]).includes(v) ? (v as T) : fallback));

/** A list page's URL with its query kept, empty values left out. */
export const pageUrl = (path: string, values: Record<string, string | number>) => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== '') params.set(k, String(v));
  return `${path}?${params.toString()}`;
};

export const pagingOf = (
  t: Translate,
  path: string,
  query: Record<string, string | number> & { page: number; per_page: number },
  total: number,
) => {
  const pages = Math.max(1, Math.ceil(total / query.per_page));
  return {
    label: t('adminPageOf', { page: String(query.page), pages: String(pages) }),
    prev: query.page > 1 ? pageUrl(path, { ...query, page: query.page - 1 }) : '',
    next: query.page < pages ? pageUrl(path, { ...query, page: query.page + 1 }) : '',
  };
};

/** Free text and exact filters: trimmed and cut to MAX_QUERY characters. */
export const trimmed = field.transform((v) => v.trim().slice(0, MAX_QUERY));

/** A table's own entry for a key from the query string (`constructor` is not a flash). */
export const ownEntry = <V>(table: Readonly<Record<string, V>>, key: string): V | undefined =>
  Object.hasOwn(table, key) ? table[key] : undefined;
