import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Locale } from '../../http/locale.js';
import { userDetailForAdmin, type AdminUserVaultRow } from '../../projections/admin-queries.js';
import { field } from '../forms.js';
import { formatRelative } from '../format.js';
import { translator } from '../i18n/index.js';
import type { WebDeps } from '../index.js';
import { localeOf } from '../page.js';
import { MAX_QUERY, ownEntry, pageUrl, trimmed } from './list-query.js';
import { USER_FLASHES, userPageUrl, userView } from './user-tools.js';
import { deviceView } from './inventory.js';
import type { AdminScope } from './inventory.js';

// CONTRACT.md §9 and §11: one user's page: the account, its devices and vaults, and the
// management forms (block, confirm, edit, reset password, delete), which the users list
// leaves out so that a list row stays small.

const UserDetailQuery = z.object({
  id: trimmed,
  flash: field,
  who: field.transform((v) => v.slice(0, MAX_QUERY)),
});

const vaultView = (locale: Locale, now: Date, userId: string) => (v: AdminUserVaultRow) => ({
  vault: v.vault_id,
  href: pageUrl('/admin/vault/', { user: userId, vault: v.vault_id }),
  ops: new Intl.NumberFormat(locale).format(v.op_count),
  lastActivityAt: v.last_activity,
  lastActivity: formatRelative(locale, v.last_activity, now),
});

export function userDetailRoutes(app: FastifyInstance, deps: WebDeps, scope: AdminScope) {
  const { db, clock } = deps;
  const { signedIn, adminPage, adminError } = scope;

  app.get('/admin/user/', signedIn, async (request, reply) => {
    const query = UserDetailQuery.parse(request.query ?? {});
    if (!query.id) {
      return adminError(
        request,
        reply,
        400,
        'adminBadUserIdTitle',
        'adminBadUserId',
        '/admin/users',
      );
    }
    const detail = userDetailForAdmin(db, query.id);
    if (!detail) {
      return adminError(request, reply, 404, 'notFoundTitle', 'adminUnknownUser', '/admin/users');
    }
    const locale = localeOf(request, deps);
    const t = translator(locale);
    const now = clock.now();
    const user = userView(locale, t, now)(detail.user);
    const more = (shown: number, total: number) =>
      total > shown ? t('adminUserMore', { shown: String(shown), total: String(total) }) : '';
    const flashKey = ownEntry(USER_FLASHES, query.flash);
    return adminPage(
      request,
      reply,
      'admin-user',
      'adminUserTitle',
      'users',
      {
        account: user,
        devices: detail.devices.map(deviceView(locale, t, now)),
        devicesMore: more(detail.devices.length, detail.deviceCount),
        vaults: detail.vaults.map(vaultView(locale, now, detail.user.id)),
        vaultsMore: more(detail.vaults.length, detail.vaultCount),
        // The user's own actions return here; a device's return to the devices list
        // narrowed to this user (device-actions.ts accepts that list only).
        back: userPageUrl(detail.user.id),
        devicesBack: pageUrl('/admin/devices', { user: detail.user.id }),
        devicesHref: pageUrl('/admin/devices', { user: detail.user.id }),
        vaultsHref: pageUrl('/admin/vaults', { user: detail.user.id }),
      },
      flashKey ? { flash: { kind: 'info', key: flashKey, params: { username: query.who } } } : {},
    );
  });
}
