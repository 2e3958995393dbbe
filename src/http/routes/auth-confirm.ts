import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError, badRequest } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { renderError } from '../../web/errors.js';
import { field, readForm } from '../../web/forms.js';
import { renderPage } from '../../web/page.js';
import { formTokenValid } from '../../web/tokens.js';
import { parseJsonBody, requestMeta } from '../body.js';
import { credentialsBodyLimit } from '../body-limits.js';

export type ConfirmRouteDeps = Pick<
  Runtime,
  'accounts' | 'config' | 'configuredPublicUrl' | 'ids' | 'webSettings'
>;

const MAX_TOKEN = 512;

const ConfirmJson = z.object({ token: z.string().default('') });
const ConfirmForm = z.object({ token: field, locale_csrf: field });

const FORM_TYPE = 'application/x-www-form-urlencoded';
const isForm = (request: FastifyRequest) =>
  (request.headers['content-type'] ?? '').toLowerCase().startsWith(FORM_TYPE);

/**
 * CONTRACT.md §7 confirm: GET shows a form (never confirms), POST confirms from JSON or
 * from that form. The token is in the URL, so the page leaks no referrer.
 */
export async function confirmRoutes(app: FastifyInstance, deps: ConfirmRouteDeps) {
  const { accounts, configuredPublicUrl } = deps;
  const failure = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    lead: 'confirmMissingToken' | 'confirmInvalidToken' | 'forbiddenLead',
  ) => renderError(request, reply, deps, status, { title: 'confirmFailedTitle', lead });

  // Only this scope reads form posts; every other route keeps reading any body as JSON.
  await app.register(formbody, { bodyLimit: 16 * 1024 });

  app.get('/api/v1/auth/confirm', async (request, reply) => {
    reply.header('referrer-policy', 'no-referrer');
    const { token } = request.query as { token?: unknown };
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN) {
      return failure(request, reply, 400, 'confirmMissingToken');
    }
    return renderPage(
      request,
      reply,
      deps,
      'confirm',
      'confirmTitle',
      { token },
      { noStore: true },
    );
  });

  const small = { bodyLimit: credentialsBodyLimit(deps.config.limits) };
  app.post('/api/v1/auth/confirm', small, async (request, reply) => {
    if (isForm(request)) {
      const form = readForm(ConfirmForm, request);
      reply.header('referrer-policy', 'no-referrer');
      if (!formTokenValid(request, form.locale_csrf, configuredPublicUrl())) {
        return failure(request, reply, 403, 'forbiddenLead');
      }
      if (!form.token) return failure(request, reply, 400, 'confirmMissingToken');
      try {
        accounts.confirmEmail(form.token, requestMeta(request, 'anonymous'));
      } catch (err) {
        if (err instanceof AppError && err.status === 400) {
          return failure(request, reply, 400, 'confirmInvalidToken');
        }
        throw err;
      }
      return reply.redirect('/confirm/result', 303);
    }
    const json = parseJsonBody(ConfirmJson, request.body);
    if (!json.token) throw badRequest('token required');
    accounts.confirmEmail(json.token, requestMeta(request, 'anonymous'));
    return { status: 'confirmed' };
  });

  app.get('/confirm/result', async (request, reply) =>
    renderPage(request, reply, deps, 'confirm-result', 'confirmDoneTitle', {}, { noStore: true }),
  );
}
