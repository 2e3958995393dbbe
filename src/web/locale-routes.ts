import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { cookieOptions, isSecureRequest } from '../http/cookies.js';
import { renderError } from './errors.js';
import { field, readForm } from './forms.js';
import type { WebDeps } from './index.js';
import { LOCALE_COOKIE, formTokenValid } from './tokens.js';

const YEAR_SECONDS = 365 * 86_400;

const LocaleForm = z.object({
  locale: z.enum(['en', 'ru', 'system']).catch('system'),
  from: z.string().catch('/'),
  locale_csrf: field,
});

/** Only a path of this site: `//host` and `/\host` would leave it (an open redirect). */
export const safeReturnPath = (from: string) =>
  /^\/(?![/\\])/.test(from) && !/[\r\n]/.test(from) ? from : '/';

/** CONTRACT.md §9 POST /locale: remembers the reader's language for a year. */
export async function localeRoutes(app: FastifyInstance, deps: WebDeps) {
  app.post('/locale', async (request, reply) => {
    const form = readForm(LocaleForm, request);
    if (!formTokenValid(request, form.locale_csrf, deps.configuredPublicUrl())) {
      return renderError(request, reply, deps, 403);
    }
    reply.setCookie(
      LOCALE_COOKIE,
      form.locale,
      cookieOptions(
        { maxAgeSeconds: YEAR_SECONDS, httpOnly: true, sameSite: 'lax' },
        isSecureRequest(request, deps.configuredPublicUrl()),
      ),
    );
    return reply.redirect(safeReturnPath(form.from), 303);
  });
}
