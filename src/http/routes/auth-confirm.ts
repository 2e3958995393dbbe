import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, badRequest } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { renderError } from '../../web/errors.js';
import { field, readForm } from '../../web/forms.js';
import { renderPage } from '../../web/page.js';
import { formTokenValid } from '../../web/tokens.js';
import { requestMeta } from '../body.js';
import { credentialsBodyLimit } from '../body-limits.js';
import { ConfirmBody } from '../openapi/account-schemas.js';
import { page, redirect, refusalOrPage, refusals, StatusAnswer } from '../openapi/answers.js';

export type ConfirmRouteDeps = Pick<
  Runtime,
  'accounts' | 'config' | 'configuredPublicUrl' | 'ids' | 'webSettings'
>;

const MAX_TOKEN = 512;

// Documented, never refused by the schema: a bad token gets the HTML page below.
const ConfirmQuery = z.object({
  token: z.unknown().optional().meta({ type: 'string', description: 'The token from the mail' }),
});
const ConfirmForm = z.object({ token: field, locale_csrf: field });

const FORM_TYPE = 'application/x-www-form-urlencoded';
const isForm = (request: FastifyRequest) =>
  (request.headers['content-type'] ?? '').toLowerCase().startsWith(FORM_TYPE);

/**
 * CONTRACT.md §7 confirm: GET shows a form (never confirms), POST confirms from JSON or
 * from that form. The token is in the URL, so the page leaks no referrer.
 */
export async function confirmRoutes(fastify: FastifyInstance, deps: ConfirmRouteDeps) {
  const { accounts, configuredPublicUrl } = deps;
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const failure = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    lead: 'confirmMissingToken' | 'confirmInvalidToken' | 'forbiddenLead',
  ) => renderError(request, reply, deps, status, { title: 'confirmFailedTitle', lead });

  // Only this scope reads form posts; every other route keeps reading any body as JSON.
  await app.register(formbody, { bodyLimit: 16 * 1024 });

  const pageSchema = {
    summary: 'The confirmation form (a page; it does not confirm)',
    querystring: ConfirmQuery,
    response: {
      200: page('The form that confirms by POST'),
      400: page('No token'),
      ...refusals({}),
    },
  };
  app.get('/api/v1/auth/confirm', { schema: pageSchema }, async (request, reply) => {
    reply.header('referrer-policy', 'no-referrer');
    const { token } = request.query;
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

  // The form post is the console's; it is answered before the JSON body schema applies.
  const confirmFromForm = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isForm(request)) return undefined;
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
  };
  const confirmOptions = {
    bodyLimit: credentialsBodyLimit(deps.config.limits),
    preValidation: confirmFromForm,
    schema: {
      summary: 'Confirm an e-mail address (JSON; the console’s form posts here too)',
      body: ConfirmBody,
      response: {
        200: StatusAnswer('confirmed'),
        303: redirect('A form post: to /confirm/result'),
        400: refusalOrPage(
          'invalid_json, invalid_request: token required, invalid or expired token',
        ),
        403: page('A form post without its form token'),
        ...refusals({}),
      },
    },
  };
  app.post('/api/v1/auth/confirm', confirmOptions, async (request) => {
    const json = request.body;
    if (!json.token) throw badRequest('token required');
    accounts.confirmEmail(json.token, requestMeta(request, 'anonymous'));
    return { status: 'confirmed' };
  });

  app.get('/confirm/result', async (request, reply) =>
    renderPage(request, reply, deps, 'confirm-result', 'confirmDoneTitle', {}, { noStore: true }),
  );
}
