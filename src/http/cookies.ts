import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';

/** The value of one cookie of the request (parsed by @fastify/cookie), or undefined. */
export const readCookie = (request: FastifyRequest, name: string): string | undefined =>
  request.cookies[name];

export interface CookieOptions {
  readonly maxAgeSeconds: number;
  readonly httpOnly: boolean;
  readonly sameSite: 'strict' | 'lax';
  readonly path?: string;
}

/**
 * CONTRACT.md §0 and §3.2: Secure when the public URL is https or the request came over
 * https (directly or through a trusted proxy); plain-http LAN installs must keep working.
 */
export const isSecureRequest = (request: FastifyRequest, configuredPublicUrl: string) =>
  configuredPublicUrl.trim().startsWith('https://') || request.protocol === 'https';

export const cookieOptions = (o: CookieOptions, secure: boolean): CookieSerializeOptions => ({
  path: o.path ?? '/',
  maxAge: o.maxAgeSeconds,
  httpOnly: o.httpOnly,
  sameSite: o.sameSite,
  secure,
});

/**
 * CONTRACT.md §3.2: an Origin header, when sent, must be the public URL's origin or, with
 * none configured, the request's own scheme and host. Browsers send `Origin: null` from a
 * page whose Referrer-Policy is no-referrer (the reset and confirm pages, so that their
 * token never leaves in a Referer), so null counts as no Origin unless Fetch Metadata says
 * cross-site; the form and CSRF tokens, in SameSite=Strict cookies, still have to match.
 */
export function sameOrigin(request: FastifyRequest, configuredPublicUrl: string): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (origin === 'null') return request.headers['sec-fetch-site'] !== 'cross-site';
  let expected: string;
  try {
    expected = configuredPublicUrl.trim()
      ? new URL(configuredPublicUrl).origin
      : `${request.protocol}://${request.host}`;
  } catch {
    return false;
  }
  return origin === expected;
}
