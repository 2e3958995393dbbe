import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MessageKey } from './i18n/index.js';
import { translator } from './i18n/index.js';
import { localeOf, renderPage, type PageDeps } from './page.js';

const PAGES: Record<number, { title: MessageKey; lead: MessageKey }> = {
  403: { title: 'forbiddenTitle', lead: 'forbiddenLead' },
  404: { title: 'notFoundTitle', lead: 'notFoundLead' },
};
const GENERIC = { title: 'errorTitle', lead: 'forbiddenLead' } as const;

/** An HTML error page with the given status, in the reader's language. */
export function renderError(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: PageDeps,
  status: number,
  override?: { title: MessageKey; lead: MessageKey },
) {
  const keys = override ?? PAGES[status] ?? GENERIC;
  const t = translator(localeOf(request, deps));
  return renderPage(
    request,
    reply,
    deps,
    'error',
    keys.title,
    { message: t(keys.lead), next: { href: '/', label: t('backHome') } },
    { status, noStore: true },
  );
}
