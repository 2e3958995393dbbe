import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError, badRequest } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { parseJsonBody, requestMeta } from '../body.js';
import { readCookie, sameOrigin, serializeCookie } from '../cookies.js';
import { requestLocale, type Locale } from '../locale.js';
import { confirmFormPage, messagePage, type PageText } from '../pages.js';

export type ConfirmRouteDeps = Pick<Runtime, 'accounts' | 'config' | 'configuredPublicUrl' | 'ids'>;

/** CONTRACT.md §3.3: the anonymous form's double-submit token. */
const FORM_COOKIE = 'verstak_locale_csrf';
const FORM_TOKEN_SHAPE = /^[0-9a-f]{64}$/;
const MAX_TOKEN = 512;

const ConfirmJson = z.object({ token: z.string().default('') });

const html = 'text/html; charset=utf-8';

const FORM_TYPE = 'application/x-www-form-urlencoded';
const isForm = (request: FastifyRequest) =>
  (request.headers['content-type'] ?? '').toLowerCase().startsWith(FORM_TYPE);

const sameSecret = (a: string, b: string) =>
  a.length === b.length && a.length > 0 && timingSafeEqual(Buffer.from(a), Buffer.from(b));

function page(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).type(html).header('cache-control', 'no-store').send(body);
}

/**
 * CONTRACT.md §7 confirm: GET shows a form (never confirms), POST confirms from JSON or
 * from that form. The token is in the URL, so the page leaks no referrer.
 */
export async function confirmRoutes(app: FastifyInstance, deps: ConfirmRouteDeps) {
  const { accounts, config, configuredPublicUrl, ids } = deps;
  const localeOf = (request: FastifyRequest): Locale =>
    requestLocale(request, config.default_locale);
  const failure = (reply: FastifyReply, locale: Locale, status: number, message: PageText) =>
    page(reply, status, messagePage(locale, 'failedTitle', message));

  // Only this scope reads form posts; every other route keeps reading any body as JSON.
  app.addContentTypeParser(
    FORM_TYPE,
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_request, body, done) => {
      const form = new URLSearchParams(body as string);
      done(null, { token: form.get('token') ?? '', locale_csrf: form.get('locale_csrf') ?? '' });
    },
  );

  app.get('/api/v1/auth/confirm', async (request, reply) => {
    const locale = localeOf(request);
    reply.header('referrer-policy', 'no-referrer');
    const { token } = request.query as { token?: unknown };
    if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN) {
      return failure(reply, locale, 400, 'missingToken');
    }
    let formToken = readCookie(request, FORM_COOKIE) ?? '';
    if (!FORM_TOKEN_SHAPE.test(formToken)) {
      formToken = ids.secret();
      reply.header(
        'set-cookie',
        serializeCookie(FORM_COOKIE, formToken, {
          maxAgeSeconds: 86_400,
          httpOnly: true,
          sameSite: 'Strict',
          secure: configuredPublicUrl().startsWith('https://'),
        }),
      );
    }
    return page(reply, 200, confirmFormPage(locale, token, formToken));
  });

  app.post('/api/v1/auth/confirm', async (request, reply) => {
    if (isForm(request)) {
      const body = request.body as { token: string; locale_csrf: string };
      const locale = localeOf(request);
      reply.header('referrer-policy', 'no-referrer');
      const cookie = readCookie(request, FORM_COOKIE) ?? '';
      if (!sameSecret(cookie, body.locale_csrf) || !sameOrigin(request, configuredPublicUrl())) {
        return failure(reply, locale, 403, 'forbidden');
      }
      if (!body.token) return failure(reply, locale, 400, 'missingToken');
      try {
        accounts.confirmEmail(body.token, requestMeta(request, 'anonymous'));
      } catch (err) {
        if (err instanceof AppError && err.status === 400) {
          return failure(reply, locale, 400, 'invalidToken');
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
    page(reply, 200, messagePage(localeOf(request), 'doneTitle', 'doneLead')),
  );
}
