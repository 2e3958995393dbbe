import type { FastifyRequest } from 'fastify';
import { readCookie } from './cookies.js';

export type Locale = 'en' | 'ru';

const isLocale = (v: unknown): v is Locale => v === 'en' || v === 'ru';

/**
 * The locale of a request: an explicit choice (a body field), else the `verstak_locale`
 * cookie, else the first Russian or English language the browser accepts, else the server default.
 */
export function requestLocale(
  request: FastifyRequest,
  fallback: Locale,
  explicit?: unknown,
): Locale {
  if (isLocale(explicit)) return explicit;
  const cookie = readCookie(request, 'verstak_locale');
  if (isLocale(cookie)) return cookie;
  for (const range of (request.headers['accept-language'] ?? '').split(',')) {
    const [tag = '', ...params] = range.trim().toLowerCase().split(';');
    if (params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p))) continue;
    if (tag.startsWith('ru')) return 'ru';
    if (tag.startsWith('en')) return 'en';
  }
  return fallback;
}
