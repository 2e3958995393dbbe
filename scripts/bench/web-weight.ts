import type { FastifyInstance } from 'fastify';

/** The console's page weight goal: a page's HTML plus the CSS and JS it references. */
export const WEIGHT_GOAL_BYTES = 60_000;

/** The stylesheets and scripts a page references. */
export const assetsOf = (html: string) => [
  ...new Set(
    [
      ...html.matchAll(/<link\b[^>]*\brel="stylesheet"[^>]*\bhref="([^"]+)"/g),
      ...html.matchAll(/<link\b[^>]*\bhref="([^"]+)"[^>]*\brel="stylesheet"/g),
      ...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g),
    ].map((m) => m[1]!),
  ),
];

/**
 * Weighs pages of one app: the HTML's bytes plus each referenced asset's, every asset
 * fetched once. An asset that does not answer 200 throws: a page must not reference one.
 */
export function createWeigher(app: FastifyInstance) {
  const sizes = new Map<string, number>();
  return async (html: string) => {
    let bytes = Buffer.byteLength(html);
    for (const ref of assetsOf(html)) {
      if (!sizes.has(ref)) {
        const res = await app.inject({ method: 'GET', url: ref });
        if (res.statusCode !== 200) throw new Error(`${ref} answered ${res.statusCode}`);
        sizes.set(ref, res.rawPayload.length);
      }
      bytes += sizes.get(ref)!;
    }
    return bytes;
  };
}
