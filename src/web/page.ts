import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SessionPrincipal } from '../commands/session-service.js';
import { requestLocale, type Locale } from '../http/locale.js';
import type { AdminPrincipal } from '../commands/admin-session-service.js';
import type { WebSettings } from '../projections/settings.js';
import { adminCsrfOfRequest } from './admin/session.js';
import { translator, type MessageKey, type Translate } from './i18n/index.js';
import {
  LOCALE_COOKIE,
  USER_SESSION_COOKIE,
  csrfTokenOf,
  ensureFormToken,
  type TokenDeps,
} from './tokens.js';

export type PageDeps = TokenDeps & { readonly webSettings: () => WebSettings };

export interface Flash {
  readonly kind: 'info' | 'error';
  readonly text: string;
}

/** What every template may read as `it`; pages add their own fields. */
export interface PageModel {
  readonly lang: Locale;
  readonly t: Translate;
  readonly title: string;
  /** The switcher's choice: an explicit locale or `system`. */
  readonly localeChoice: 'en' | 'ru' | 'system';
  /** Where the locale switcher returns to. */
  readonly returnTo: string;
  readonly formToken: string;
  readonly csrfToken: string;
  readonly user: SessionPrincipal | null;
  /** The signed-in admin on /admin pages; a user session shows nothing there. */
  readonly admin: AdminPrincipal | null;
  readonly flash: Flash | null;
  /** The admin's name for this server, else the product's: header and title. */
  readonly serverName: string;
  /** Whether the register links are shown (CONTRACT.md §9 `web.allow_registration`). */
  readonly registrationOpen: boolean;
}

export const localeOf = (request: FastifyRequest, deps: PageDeps): Locale =>
  requestLocale(request, deps.webSettings().defaultLocale);

function localeChoice(request: FastifyRequest): PageModel['localeChoice'] {
  const cookie = request.cookies[LOCALE_COOKIE];
  return cookie === 'en' || cookie === 'ru' ? cookie : 'system';
}

/**
 * Where the locale switcher returns: the GET page as it was asked for (a mailed link keeps
 * its token, or switching language would void the link), else the form's own page.
 */
const returnTo = (request: FastifyRequest): string =>
  request.method === 'GET' ? request.url : (request.routeOptions.url ?? '/');

export interface RenderOptions {
  readonly status?: number;
  readonly flash?: { kind: Flash['kind']; key: MessageKey; params?: Record<string, string> };
  /** Personal or secret content: never kept by a cache (RELIABILITY.md §2.8). */
  readonly noStore?: boolean;
}

/** A form page answered with its refusal: the status and the message above the form. */
export const refusalOptions = (refusal?: { status: number; key: MessageKey }): RenderOptions =>
  refusal ? { status: refusal.status, flash: { kind: 'error', key: refusal.key } } : {};

/** Renders `views/pages/<page>.eta` inside the layout. */
export async function renderPage(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: PageDeps,
  page: string,
  titleKey: MessageKey,
  data: Record<string, unknown> = {},
  options: RenderOptions = {},
) {
  const web = deps.webSettings();
  const lang = requestLocale(request, web.defaultLocale);
  const t = translator(lang);
  const admin = request.admin ?? null;
  // The two scopes never mix: an admin page shows the admin, never a user signed in too.
  const user = admin ? null : (request.account ?? null);
  const session = request.cookies[USER_SESSION_COOKIE];
  const model: PageModel = {
    lang,
    t,
    title: t(titleKey),
    localeChoice: localeChoice(request),
    returnTo: returnTo(request),
    formToken: ensureFormToken(request, reply, deps),
    // Re-derived rather than read back from the cookie, which a sibling site could plant.
    csrfToken: admin ? adminCsrfOfRequest(request) : user && session ? csrfTokenOf(session) : '',
    user,
    admin,
    flash: options.flash
      ? { kind: options.flash.kind, text: t(options.flash.key, options.flash.params) }
      : null,
    serverName: web.serverName || t('appName'),
    registrationOpen: web.allowRegistration,
  };
  const html = await reply.viewAsync(`pages/${page}`, { ...data, ...model });
  if (options.noStore || user || admin) reply.header('cache-control', 'no-store');
  // The language and the signed-in state come from these request headers.
  reply.header('vary', 'Accept-Language, Cookie');
  return reply
    .code(options.status ?? 200)
    .type('text/html; charset=utf-8')
    .send(html);
}
