export type RangeAnswer =
  | { readonly kind: 'full' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

const FULL: RangeAnswer = { kind: 'full' };
const UNSATISFIABLE: RangeAnswer = { kind: 'unsatisfiable' };

/**
 * One byte range (RFC 9110 §14.1.2): `bytes=a-b`, `bytes=a-` or `bytes=-n`. Other units
 * are ignored, as the RFC requires; several ranges, malformed ones and ranges beyond the
 * end are refused (416), which the RFC allows.
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return FULL;
  const unit = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!unit) return FULL;
  const spec = /^\s*(\d{0,16})-(\d{0,16})\s*$/.exec(unit[1] ?? '');
  if (!spec) return UNSATISFIABLE;
  const [, first = '', last = ''] = spec;
  if (first === '' && last === '') return UNSATISFIABLE;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return UNSATISFIABLE;
  if (last === '') return { kind: 'partial', start, end: size - 1 };
  const end = Number(last);
  if (end < start) return UNSATISFIABLE;
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}
