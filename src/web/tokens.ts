import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { cookieOptions, isSecureRequest, sameOrigin } from '../http/cookies.js';
import { USER_SESSION_COOKIE } from '../http/session-auth.js';
import type { Ids } from '../ids.js';

export { USER_SESSION_COOKIE };

// Cookie names fixed by CONTRACT.md §0, §3.2 and §3.3.
export const CSRF_COOKIE = 'csrf_token';
export const FORM_COOKIE = 'verstak_locale_csrf';
export const LOCALE_COOKIE = 'verstak_locale';

const DAY_SECONDS = 86_400;
const FORM_TOKEN_SHAPE = /^[0-9a-f]{64}$/;

export const sameSecret = (a: string | undefined, b: string | undefined): boolean =>
  typeof a === 'string' &&
  typeof b === 'string' &&
  a.length === b.length &&
  a.length > 0 &&
  timingSafeEqual(Buffer.from(a), Buffer.from(b));

export interface TokenDeps {
  readonly ids: Pick<Ids, 'secret'>;
  readonly configuredPublicUrl: () => string;
}

/** CONTRACT.md §3.3: the anonymous forms' double-submit token, set by every rendered page. */
export function ensureFormToken(request: FastifyRequest, reply: FastifyReply, deps: TokenDeps) {
  const current = request.cookies[FORM_COOKIE] ?? '';
  if (FORM_TOKEN_SHAPE.test(current)) return current;
  const token = deps.ids.secret();
  reply.setCookie(
    FORM_COOKIE,
    token,
    cookieOptions(
      { maxAgeSeconds: DAY_SECONDS, httpOnly: true, sameSite: 'strict' },
      isSecureRequest(request, deps.configuredPublicUrl()),
    ),
  );
  // A later render in this request (an error page) must embed the same value.
  request.cookies[FORM_COOKIE] = token;
  return token;
}

// RELIABILITY.md §2.5: Fetch Metadata refuses what a browser marks as cross-site.
const crossSite = (request: FastifyRequest) => request.headers['sec-fetch-site'] === 'cross-site';

export const formTokenValid = (request: FastifyRequest, field: unknown, publicUrl: string) =>
  typeof field === 'string' &&
  sameSecret(request.cookies[FORM_COOKIE], field) &&
  sameOrigin(request, publicUrl) &&
  !crossSite(request);

/**
 * The session's CSRF token, derived from the session token rather than stored: an HMAC
 * keyed by a secret only the browser and nobody else holds binds it to that session, and
 * the server keeps no extra secret (its log stores only the session hash).
 */
export const csrfTokenOf = (sessionToken: string) =>
  createHmac('sha256', sessionToken).update('verstak-csrf-v1').digest('hex');

/** CONTRACT.md §3.2: cookie == header or form field, and it belongs to this session. */
export function csrfValid(request: FastifyRequest, field: unknown, publicUrl: string): boolean {
  const session = request.cookies[USER_SESSION_COOKIE];
  const cookie = request.cookies[CSRF_COOKIE];
  const header = request.headers['x-csrf-token'];
  const sent = typeof field === 'string' && field !== '' ? field : header;
  if (!session || typeof sent !== 'string') return false;
  return (
    sameSecret(cookie, sent) &&
    sameSecret(cookie, csrfTokenOf(session)) &&
    sameOrigin(request, publicUrl) &&
    !crossSite(request)
  );
}

/** Sets the session cookie and its CSRF companion after a login (CONTRACT.md §3.2). */
export function setSessionCookies(
  request: FastifyRequest,
  reply: FastifyReply,
  sessionToken: string,
  publicUrl: string,
) {
  const secure = isSecureRequest(request, publicUrl);
  const base = { maxAgeSeconds: DAY_SECONDS };
  reply.setCookie(
    USER_SESSION_COOKIE,
    sessionToken,
    cookieOptions({ ...base, httpOnly: true, sameSite: 'lax' }, secure),
  );
  reply.setCookie(
    CSRF_COOKIE,
    csrfTokenOf(sessionToken),
    cookieOptions({ ...base, httpOnly: false, sameSite: 'strict' }, secure),
  );
}

export function clearSessionCookies(reply: FastifyReply) {
  reply.clearCookie(USER_SESSION_COOKIE, { path: '/' });
  reply.clearCookie(CSRF_COOKIE, { path: '/' });
}
