import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { EmailSchema, PasswordSchema, parseOrThrow } from '../../commands/user-service.js';
import { AppError, badRequest } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { createAfterReply } from '../after-reply.js';
import { parseJsonBody, requestMeta } from '../body.js';
import { credentialsBodyLimit } from '../body-limits.js';
import { requestLocale } from '../locale.js';
import type { RateLimiter } from '../rate-limit.js';
import { confirmRoutes } from './auth-confirm.js';

export type AuthRouteDeps = Pick<
  Runtime,
  | 'accounts'
  | 'passwordResets'
  | 'sessions'
  | 'config'
  | 'configuredPublicUrl'
  | 'ids'
  | 'webSettings'
> & {
  readonly limiter: RateLimiter;
};

const str = z.string().default('');
const bytes = (s: string) => Buffer.byteLength(s);

const RegisterBody = z.object({
  username: str,
  email: str,
  password: str,
  locale: z.unknown().optional(),
});
const LoginBody = z.object({ username: str, password: str });
const ForgotBody = z.object({ email: str });
const ResetBody = z.object({ token: str, new_password: str });

/** CONTRACT.md §7: the user JSON API for accounts (the web forms come later). */
export async function authRoutes(app: FastifyInstance, deps: AuthRouteDeps) {
  const { accounts, passwordResets, sessions, limiter, webSettings } = deps;
  const afterReply = createAfterReply(app);
  const small = { bodyLimit: credentialsBodyLimit(deps.config.limits) };

  app.post('/api/v1/auth/register', small, async (request) => {
    // CONTRACT.md §7 names no answer for a closed registration: 403 with a code of its own.
    if (!webSettings().allowRegistration) {
      throw new AppError(403, 'registration_disabled', 'registration is disabled');
    }
    const body = parseJsonBody(RegisterBody, request.body);
    if (!body.username.trim() || !body.email.trim() || !body.password) {
      throw badRequest('username, email and password required');
    }
    // CONTRACT.md §6: the limit counts after the address is valid, before the password rules.
    const email = parseOrThrow(EmailSchema, body.email);
    limiter.check('register', request.ip, email);
    parseOrThrow(PasswordSchema, body.password);
    const locale = requestLocale(request, webSettings().defaultLocale, body.locale);
    await accounts.register(
      { username: body.username, email, password: body.password, locale },
      requestMeta(request, 'anonymous'),
    );
    return { status: 'confirmation_sent' };
  });

  app.post('/api/v1/auth/login', small, async (request) => {
    const body = parseJsonBody(LoginBody, request.body);
    if (!body.username.trim() || !body.password) throw badRequest('username and password required');
    if (bytes(body.username) > 320) throw badRequest('username is too long');
    limiter.check('login', request.ip);
    const session = await sessions.login(
      body.username,
      body.password,
      requestMeta(request, 'anonymous'),
    );
    return { token: session.token, user_id: session.userId };
  });

  app.post('/api/v1/auth/forgot', small, async (request, reply) => {
    const body = parseJsonBody(ForgotBody, request.body);
    if (!body.email.trim()) throw badRequest('email required');
    if (bytes(body.email) > 320) throw badRequest('email is too long');
    limiter.check('forgot', request.ip, body.email);
    // The answer is the same for every address; the work is not, so it comes after.
    const meta = requestMeta(request, 'anonymous');
    afterReply(reply, 'forgot-password request failed after its answer', () =>
      passwordResets.requestPasswordReset(body.email, meta),
    );
    return { status: 'if email exists, reset link sent' };
  });

  app.post('/api/v1/auth/reset', small, async (request) => {
    const body = parseJsonBody(ResetBody, request.body);
    if (!body.token || !body.new_password) throw badRequest('token and new_password required');
    limiter.check('reset', request.ip);
    await passwordResets.resetPassword(
      body.token,
      body.new_password,
      requestMeta(request, 'anonymous'),
    );
    return { status: 'password reset' };
  });

  await app.register(confirmRoutes, deps);
}
