import type { Locale } from '../http/locale.js';

// Intl formatters are costly to build and safe to share: one per locale and kind.
const dates = new Map<Locale, Intl.DateTimeFormat>();
const relatives = new Map<Locale, Intl.RelativeTimeFormat>();

/** A date and time in the page's language, in UTC: the server does not know the reader's zone. */
export function formatDate(locale: Locale, iso: string): string {
  let format = dates.get(locale);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, {
      dateStyle: 'medium',
      timeStyle: 'short',
      timeZone: 'UTC',
    });
    dates.set(locale, format);
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${format.format(date)} UTC`;
}

const STEPS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86_400],
  ['month', 30 * 86_400],
  ['week', 7 * 86_400],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];

/** "3 hours ago" / "3 часа назад", measured from `now`. */
export function formatRelative(locale: Locale, iso: string, now: Date): string {
  let format = relatives.get(locale);
  if (!format) {
    format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
    relatives.set(locale, format);
  }
  const seconds = Math.round((new Date(iso).getTime() - now.getTime()) / 1000);
  if (Number.isNaN(seconds)) return iso;
  const [unit, size] = STEPS.find(([, s]) => Math.abs(seconds) >= s) ?? ['second', 1];
  return format.format(Math.trunc(seconds / size), unit);
}

const UNITS = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;

/** A byte count in binary steps with the page's unit names ("1.5 MB", "1,5 МБ"). */
export function formatSize(locale: Locale, bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return new Intl.NumberFormat(locale, {
    style: 'unit',
    unit: UNITS[unit],
    // "512 bytes" rather than the short form's "512 byte".
    unitDisplay: unit === 0 ? 'long' : 'short',
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}
