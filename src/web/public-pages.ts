import { accessSync, constants } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { EmailSchema, PasswordSchema, UsernameSchema } from '../commands/user-service.js';
import { requestMeta } from '../http/body.js';
import { hasUnsafeChars } from '../security/text-hygiene.js';
import { renderError } from './errors.js';
import { field, isClientError, isRateLimited, readForm, withinLimit } from './forms.js';
import type { MessageKey } from './i18n/index.js';
import type { WebDeps } from './index.js';
import { localeOf, refusalOptions, renderPage } from './page.js';
import { USER_SESSION_COOKIE, formTokenValid, setSessionCookies } from './tokens.js';

const LoginForm = z.object({ username: field, password: field, locale_csrf: field });
const RegisterForm = z.object({
  username: field,
  email: field,
  password: field,
  locale_csrf: field,
});
type RegisterInput = z.output<typeof RegisterForm>;

/** The first rule a registration breaks, checked in the order the form lists its fields. */
function registrationProblem(form: RegisterInput): MessageKey | undefined {
  if (!form.username.trim() || !form.email.trim() || !form.password) return 'errorRequired';
  if (hasUnsafeChars(form.username.trim()) || hasUnsafeChars(form.email.trim())) {
    return 'errorUnsafeText';
  }
  if (!UsernameSchema.safeParse(form.username).success) return 'errorUsername';
  if (!EmailSchema.safeParse(form.email).success) return 'errorEmail';
  if (!PasswordSchema.safeParse(form.password).success) return 'errorPassword';
  return undefined;
}

/**
 * What /api/v1/health checks, read-only: the home page is hit by anyone, so it writes no
 * probe file into the blob store.
 */
function storageAvailable(deps: Pick<WebDeps, 'db' | 'blobDir'>): boolean {
  try {
    deps.db.prepare('SELECT 1').get();
    accessSync(deps.blobDir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** CONTRACT.md §9: the home page, sign-in and self-registration. */
export async function publicPages(app: FastifyInstance, deps: WebDeps) {
  const { sessions, accounts, limiter, configuredPublicUrl } = deps;
  const tokenOk = (request: FastifyRequest, body: { locale_csrf: string }) =>
    formTokenValid(request, body.locale_csrf, configuredPublicUrl());

  app.get('/', async (request, reply) => {
    if (!storageAvailable(deps)) {
      return renderError(request, reply, deps, 503, {
        title: 'unavailableTitle',
        lead: 'unavailableLead',
      });
    }
    return renderPage(request, reply, deps, 'home', 'homeTitle', { serverUrl: deps.publicUrl() });
  });

  const loginPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    username = '',
    failure?: { status: number; key: MessageKey },
  ) =>
    renderPage(request, reply, deps, 'login', 'loginTitle', { username }, refusalOptions(failure));

  app.get('/login', async (request, reply) =>
    request.account ? reply.redirect('/dashboard', 302) : loginPage(request, reply),
  );

  app.post('/login', async (request, reply) => {
    const form = readForm(LoginForm, request);
    if (!tokenOk(request, form)) return renderError(request, reply, deps, 403);
    // One message for every refusal (RELIABILITY.md §2.2): unknown, blocked, unconfirmed, wrong.
    const refused = { status: 401, key: 'loginFailed' as const };
    if (!form.username.trim() || !form.password || Buffer.byteLength(form.username) > 320) {
      return loginPage(request, reply, form.username, refused);
    }
    if (!withinLimit(limiter, 'login', request)) {
      return loginPage(request, reply, form.username, { status: 429, key: 'errorRateLimited' });
    }
    const meta = requestMeta(request, 'anonymous');
    let session: { token: string };
    try {
      session = await sessions.login(form.username, form.password, meta);
    } catch (err) {
      if (isRateLimited(err)) {
        return loginPage(request, reply, form.username, { status: 429, key: 'errorRateLimited' });
      }
      if (isClientError(err)) return loginPage(request, reply, form.username, refused);
      throw err;
    }
    // A new session on every login (no fixation); the one this browser held ends.
    sessions.logout(request.cookies[USER_SESSION_COOKIE] ?? '', meta);
    setSessionCookies(request, reply, session.token, configuredPublicUrl());
    return reply.redirect('/dashboard', 303);
  });

  const registerPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    form: Pick<RegisterInput, 'username' | 'email'> = { username: '', email: '' },
    problem?: MessageKey,
  ) =>
    renderPage(
      request,
      reply,
      deps,
      'register',
      'registerTitle',
      { username: form.username, email: form.email },
      problem
        ? {
            status: problem === 'errorRateLimited' ? 429 : 200,
            flash: { kind: 'error', key: problem },
          }
        : {},
    );

  // CONTRACT.md §9: with registration off the page does not exist.
  const registrationClosed = () => !deps.webSettings().allowRegistration;

  app.get('/register', async (request, reply) =>
    registrationClosed() ? renderError(request, reply, deps, 404) : registerPage(request, reply),
  );

  app.post('/register', async (request, reply) => {
    if (registrationClosed()) return renderError(request, reply, deps, 404);
    const form = readForm(RegisterForm, request);
    if (!tokenOk(request, form)) return renderError(request, reply, deps, 403);
    const problem = registrationProblem(form);
    if (problem) return registerPage(request, reply, form, problem);
    if (!withinLimit(limiter, 'register', request, form.email)) {
      return registerPage(request, reply, form, 'errorRateLimited');
    }
    try {
      await accounts.register(
        { ...form, locale: localeOf(request, deps) },
        requestMeta(request, 'anonymous'),
      );
    } catch (err) {
      // A taken address is answered like a new one (a mail goes to its owner); a taken
      // username is public anyway, and the registrant needs to pick another.
      if (isClientError(err) && err.status === 409) {
        return registerPage(request, reply, form, 'errorTaken');
      }
      throw err;
    }
    return reply.redirect('/register/result', 303);
  });

  app.get('/register/result', async (request, reply) =>
    renderPage(request, reply, deps, 'register-result', 'registerResultTitle'),
  );
}
