import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { EmailSchema, PasswordSchema, parseOrThrow } from '../../commands/user-service.js';
import { AppError, badRequest } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { createAfterReply } from '../after-reply.js';
import { requestMeta } from '../body.js';
import { credentialsBodyLimit } from '../body-limits.js';
import { requestLocale } from '../locale.js';
import {
  ForgotBody,
  LoginAnswer,
  LoginBody,
  RegisterBody,
  ResetBody,
} from '../openapi/account-schemas.js';
import { refusals, StatusAnswer } from '../openapi/answers.js';
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

const bytes = (s: string) => Buffer.byteLength(s);

/** CONTRACT.md §7: the user JSON API for accounts (the web forms come later). */
export async function authRoutes(fastify: FastifyInstance, deps: AuthRouteDeps) {
  const { accounts, passwordResets, sessions, limiter, webSettings } = deps;
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const afterReply = createAfterReply(app);
  const bodyLimit = credentialsBodyLimit(deps.config.limits);

  const registerSchema = {
    summary: 'Register an account (unconfirmed until its e-mail is confirmed)',
    body: RegisterBody,
    response: {
      200: StatusAnswer('confirmation_sent'),
      ...refusals({
        400: 'invalid_json, invalid_request: fields missing, invalid email, PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG',
        403: 'registration_disabled',
        409: 'already_exists: username or e-mail taken',
        429: 'rate_limited',
      }),
    },
  };
  const registerOptions = {
    bodyLimit,
    schema: registerSchema,
    // Before the body is validated: a closed registration is the answer whatever was sent.
    preValidation: async () => {
      // CONTRACT.md §7 names no answer for a closed registration: 403 with a code of its own.
      if (!webSettings().allowRegistration) {
        throw new AppError(403, 'registration_disabled', 'registration is disabled');
      }
    },
  };
  app.post('/api/v1/auth/register', registerOptions, async (request) => {
    const { body } = request;
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

  const loginSchema = {
    summary: 'Sign in: a user session token',
    body: LoginBody,
    response: {
      200: LoginAnswer,
      ...refusals({
        400: 'invalid_json, invalid_request',
        401: 'unauthorized: invalid credentials',
        403: 'forbidden: account blocked, or e-mail not confirmed',
        429: 'rate_limited',
      }),
    },
  };
  app.post('/api/v1/auth/login', { bodyLimit, schema: loginSchema }, async (request) => {
    const { body } = request;
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

  const forgotSchema = {
    summary: 'Ask for a password reset (the same answer for every address)',
    body: ForgotBody,
    response: {
      200: StatusAnswer('if email exists, reset link sent'),
      ...refusals({ 400: 'invalid_json, invalid_request', 429: 'rate_limited' }),
    },
  };
  app.post('/api/v1/auth/forgot', { bodyLimit, schema: forgotSchema }, async (request, reply) => {
    const { body } = request;
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

  const resetSchema = {
    summary: 'Set a new password with a reset token',
    body: ResetBody,
    response: {
      200: StatusAnswer('password reset'),
      ...refusals({
        400: 'invalid_json, invalid_request: fields missing, password rules, invalid or expired token',
        429: 'rate_limited',
      }),
    },
  };
  app.post('/api/v1/auth/reset', { bodyLimit, schema: resetSchema }, async (request) => {
    const { body } = request;
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
