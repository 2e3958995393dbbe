import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SessionPrincipal, SessionService } from '../commands/session-service.js';
import { AppError } from '../errors.js';
import { readCookie, sameOrigin } from './cookies.js';

declare module 'fastify' {
  interface FastifyRequest {
    account: SessionPrincipal | null;
  }
}

export const USER_SESSION_COOKIE = 'user_session';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CONTRACT.md §3.2: a user session from the `user_session` cookie or `Authorization:
 * Bearer` (the token of POST /api/v1/auth/login). Device tokens are not sessions and open
 * nothing here. Anything but a live session is sent to /login, JSON routes included.
 */
export function createSessionAuthenticator(deps: {
  sessions: SessionService;
  /** The settings' public URL wins over config.yml's, as it does for mailed links. */
  configuredPublicUrl: () => string;
}) {
  return async function authenticateSession(request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers.authorization ?? '';
    const bearer = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const principal = deps.sessions.authenticate(
      bearer || (readCookie(request, USER_SESSION_COOKIE) ?? ''),
    );
    if (!principal) return reply.redirect('/login', 302);
    // A cookie rides along on cross-site requests, a Bearer header never does.
    if (
      !bearer &&
      !SAFE_METHODS.has(request.method) &&
      !sameOrigin(request, deps.configuredPublicUrl())
    ) {
      throw new AppError(403, 'csrf_invalid', 'cross-site request refused');
    }
    request.account = principal;
    return undefined;
  };
}
