import { createHmac } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminPrincipal } from '../../commands/admin-session-service.js';
import { cookieOptions, isSecureRequest, sameOrigin } from '../../http/cookies.js';
import { CSRF_COOKIE, sameSecret } from '../tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The admin of an `admin_session` cookie; set on /admin routes only. */
    admin: AdminPrincipal | null;
  }
}

// CONTRACT.md §3.2: the admin scope's cookies live on Path /admin, apart from the user's.
export const ADMIN_SESSION_COOKIE = 'admin_session';
export const ADMIN_PATH = '/admin';

/** RELIABILITY.md §4.11: the cookies last as long as the session can (4 h absolute). */
const ADMIN_COOKIE_SECONDS = 4 * 60 * 60;

/**
 * The admin session's CSRF token, derived from its token like the user's, under a label of
 * its own: a user's CSRF token never passes for an admin's.
 */
export const adminCsrfTokenOf = (sessionToken: string) =>
  createHmac('sha256', sessionToken).update('verstak-admin-csrf-v1').digest('hex');

/** The CSRF token a signed-in admin's forms embed, '' without an admin session. */
export const adminCsrfOfRequest = (request: FastifyRequest) => {
  const token = request.cookies[ADMIN_SESSION_COOKIE];
  return request.admin && token ? adminCsrfTokenOf(token) : '';
};

/**
 * CONTRACT.md §3.2 in the admin scope: the `csrf_token` cookie of Path /admin equals the
 * field or header and belongs to this admin session; the Origin rule and Fetch Metadata too.
 */
export function adminCsrfValid(request: FastifyRequest, field: unknown, publicUrl: string) {
  const session = request.cookies[ADMIN_SESSION_COOKIE];
  const header = request.headers['x-csrf-token'];
  const sent = typeof field === 'string' && field !== '' ? field : header;
  if (!session || !request.admin || typeof sent !== 'string') return false;
  return (
    sameSecret(request.cookies[CSRF_COOKIE], sent) &&
    sameSecret(sent, adminCsrfTokenOf(session)) &&
    sameOrigin(request, publicUrl) &&
    request.headers['sec-fetch-site'] !== 'cross-site'
  );
}

export function setAdminCookies(
  request: FastifyRequest,
  reply: FastifyReply,
  sessionToken: string,
  publicUrl: string,
) {
  const secure = isSecureRequest(request, publicUrl);
  const base = { maxAgeSeconds: ADMIN_COOKIE_SECONDS, path: ADMIN_PATH };
  reply.setCookie(
    ADMIN_SESSION_COOKIE,
    sessionToken,
    cookieOptions({ ...base, httpOnly: true, sameSite: 'lax' }, secure),
  );
  reply.setCookie(
    CSRF_COOKIE,
    adminCsrfTokenOf(sessionToken),
    cookieOptions({ ...base, httpOnly: false, sameSite: 'strict' }, secure),
  );
}

export function clearAdminCookies(reply: FastifyReply) {
  reply.clearCookie(ADMIN_SESSION_COOKIE, { path: ADMIN_PATH });
  reply.clearCookie(CSRF_COOKIE, { path: ADMIN_PATH });
}
