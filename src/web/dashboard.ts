import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { requestMeta } from '../http/body.js';
import type { Locale } from '../http/locale.js';
import { userBlobBytes } from '../projections/blobs.js';
import { listDevicesOfUser, type DeviceRow } from '../projections/devices.js';
import { findUserById } from '../projections/users.js';
import { field, readForm } from './forms.js';
import { formatDate, formatRelative, formatSize } from './format.js';
import type { MessageKey } from './i18n/index.js';
import type { WebDeps } from './index.js';
import { localeOf, renderPage } from './page.js';
import { USER_SESSION_COOKIE, clearSessionCookies, csrfValid } from './tokens.js';

const MAX_QUERY = 160;

const DashboardQuery = z.object({
  q: field.transform((q) => q.trim().slice(0, MAX_QUERY)),
  revoked: field,
  error: field,
});

const LogoutForm = z.object({ csrf_token: field });

/** CONTRACT.md §3.2: signed-in mutations fail closed with JSON, even on HTML routes. */
export const csrfRefused = () => new AppError(403, 'csrf_invalid', 'invalid CSRF token');

const matches = (device: DeviceRow, q: string) => {
  if (!q) return true;
  const needle = q.toLocaleLowerCase();
  return [device.name, device.vault_id, device.client_version].some((v) =>
    v.toLocaleLowerCase().includes(needle),
  );
};

function flashOf(query: z.output<typeof DashboardQuery>) {
  const key: MessageKey | undefined =
    query.revoked === '1'
      ? 'deviceRevokedFlash'
      : query.error === 'password'
        ? 'deviceWrongPassword'
        : query.error === 'limit'
          ? 'errorRateLimited'
          : undefined;
  if (!key) return undefined;
  return { kind: key === 'deviceRevokedFlash' ? ('info' as const) : ('error' as const), key };
}

/** CONTRACT.md §9: the signed-in user's dashboard and sign-out. */
export async function dashboardRoutes(app: FastifyInstance, deps: WebDeps) {
  const { db, activity, clock, sessions } = deps;

  const deviceView = (locale: Locale, now: Date) => (d: DeviceRow) => {
    const lastSeenAt = activity.lastSeen(d.id)?.last_seen ?? '';
    return {
      id: d.id,
      name: d.name,
      vault: d.vault_id,
      version: d.client_version,
      createdAt: d.created_at,
      created: formatDate(locale, d.created_at),
      lastSeenAt,
      lastSeen: lastSeenAt ? formatRelative(locale, lastSeenAt, now) : '',
      active: d.revoked_at === null,
      revokeAction: `/api/v1/user/devices/${encodeURIComponent(d.id)}/revoke`,
    };
  };

  app.get('/dashboard', async (request, reply) => {
    const account = request.account;
    const user = account && findUserById(db, account.userId);
    if (!user) return reply.redirect('/login', 302);
    const query = DashboardQuery.parse(request.query ?? {});
    const locale = localeOf(request, deps);
    const devices = listDevicesOfUser(db, user.id)
      .filter((d) => matches(d, query.q))
      .map(deviceView(locale, clock.now()));
    const flash = flashOf(query);
    return renderPage(
      request,
      reply,
      deps,
      'dashboard',
      'dashboardTitle',
      {
        account: {
          username: user.username,
          email: user.email,
          confirmed: user.confirmed === 1,
          createdAt: user.created_at,
          created: formatDate(locale, user.created_at),
          storage: formatSize(locale, userBlobBytes(db, user.id)),
        },
        devices,
        q: query.q,
        serverUrl: deps.publicUrl(),
      },
      { noStore: true, ...(flash ? { flash } : {}) },
    );
  });

  app.post('/logout', async (request, reply) => {
    if (!request.account) return reply.redirect('/login', 302);
    const form = readForm(LogoutForm, request);
    if (!csrfValid(request, form.csrf_token, deps.configuredPublicUrl())) throw csrfRefused();
    const { userId } = request.account;
    sessions.logout(
      request.cookies[USER_SESSION_COOKIE] ?? '',
      requestMeta(request, `user:${userId}`),
    );
    clearSessionCookies(reply);
    return reply.redirect('/login', 302);
  });
}
