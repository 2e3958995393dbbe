import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PasswordSchema } from '../commands/user-service.js';
import { createAfterReply } from '../http/after-reply.js';
import { requestMeta } from '../http/body.js';
import { renderError } from './errors.js';
import { field, isClientError, readForm, withinLimit } from './forms.js';
import type { MessageKey } from './i18n/index.js';
import type { WebDeps } from './index.js';
import { refusalOptions, renderPage } from './page.js';
import { formTokenValid } from './tokens.js';

const ForgotForm = z.object({ email: field, locale_csrf: field });
const ResetForm = z.object({ token: field, password: field, confirm: field, locale_csrf: field });
const ResetQuery = z.object({ token: field });

/** CONTRACT.md §9: the forgotten-password request and the page the mailed link opens. */
export async function passwordPages(app: FastifyInstance, deps: WebDeps) {
  const { passwordResets, limiter, configuredPublicUrl } = deps;
  const afterReply = createAfterReply(app);
  const tokenOk = (request: FastifyRequest, body: { locale_csrf: string }) =>
    formTokenValid(request, body.locale_csrf, configuredPublicUrl());

  const forgotPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    email = '',
    problem?: { status: number; key: MessageKey },
  ) =>
    renderPage(request, reply, deps, 'forgot', 'forgotTitle', { email }, refusalOptions(problem));

  app.get('/forgot', async (request, reply) => forgotPage(request, reply));

  app.post('/forgot', async (request, reply) => {
    const form = readForm(ForgotForm, request);
    if (!tokenOk(request, form)) return renderError(request, reply, deps, 403);
    if (!form.email.trim())
      return forgotPage(request, reply, '', { status: 200, key: 'errorRequired' });
    if (!withinLimit(limiter, 'forgot', request, form.email)) {
      return forgotPage(request, reply, form.email, { status: 429, key: 'errorRateLimited' });
    }
    // Known address or not, the same redirect, and the work after it (RELIABILITY.md §2.2).
    if (Buffer.byteLength(form.email) <= 320) {
      const meta = requestMeta(request, 'anonymous');
      afterReply(reply, 'forgot-password request failed after its answer', () =>
        passwordResets.requestPasswordReset(form.email, meta),
      );
    }
    return reply.redirect('/forgot/sent', 303);
  });

  app.get('/forgot/sent', async (request, reply) =>
    renderPage(request, reply, deps, 'forgot-sent', 'forgotSentTitle'),
  );

  // The token is in the address: no page of this flow may hand it on as a referrer.
  const resetPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    token: string,
    problem?: MessageKey,
  ) => {
    reply.header('referrer-policy', 'no-referrer');
    const status = problem === 'errorRateLimited' ? 429 : 200;
    return renderPage(
      request,
      reply,
      deps,
      'reset',
      'resetTitle',
      { token },
      { status, noStore: true, ...(problem ? { flash: { kind: 'error', key: problem } } : {}) },
    );
  };

  app.get('/reset', async (request, reply) => {
    const { token } = ResetQuery.parse(request.query ?? {});
    if (!passwordResets.resetTokenUsable(token)) return reply.redirect('/forgot', 302);
    return resetPage(request, reply, token);
  });

  app.post('/reset', async (request, reply) => {
    reply.header('referrer-policy', 'no-referrer');
    const form = readForm(ResetForm, request);
    if (!tokenOk(request, form)) return renderError(request, reply, deps, 403);
    if (!passwordResets.resetTokenUsable(form.token)) return reply.redirect('/forgot', 302);
    if (!PasswordSchema.safeParse(form.password).success) {
      return resetPage(request, reply, form.token, 'errorPassword');
    }
    if (form.password !== form.confirm)
      return resetPage(request, reply, form.token, 'errorMismatch');
    if (!withinLimit(limiter, 'reset', request)) {
      return resetPage(request, reply, form.token, 'errorRateLimited');
    }
    try {
      await passwordResets.resetPassword(
        form.token,
        form.password,
        requestMeta(request, 'anonymous'),
      );
    } catch (err) {
      // Used or expired between the check above and the commit.
      if (isClientError(err)) return reply.redirect('/forgot', 302);
      throw err;
    }
    return reply.redirect('/reset/done', 303);
  });

  app.get('/reset/done', async (request, reply) =>
    renderPage(request, reply, deps, 'reset-done', 'resetDoneTitle'),
  );
}
