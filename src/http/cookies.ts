import type { FastifyRequest } from 'fastify';

/** The value of one cookie of the request, or undefined. */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return undefined;
}

export interface CookieOptions {
  readonly maxAgeSeconds: number;
  readonly httpOnly: boolean;
  readonly sameSite: 'Strict' | 'Lax';
  /** CONTRACT.md §0: Secure when the public URL is https (plain-http LAN installs exist). */
  readonly secure: boolean;
}

export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    'Path=/',
    `Max-Age=${o.maxAgeSeconds}`,
    ...(o.httpOnly ? ['HttpOnly'] : []),
    `SameSite=${o.sameSite}`,
    ...(o.secure ? ['Secure'] : []),
  ].join('; ');
}

/**
 * CONTRACT.md §3.2: an Origin header, when sent, must be the public URL's origin or, with
 * none configured, the request's own scheme and host.
 */
export function sameOrigin(request: FastifyRequest, configuredPublicUrl: string): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
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
