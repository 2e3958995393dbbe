import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createAdminUserService } from '../../commands/admin-user-service.js';
import { createOneTimeSecrets } from '../../projections/admin-one-time-secrets.js';
import { listUsersForAdmin, USER_SORTS, type UserSort } from '../../projections/admin-queries.js';
import { field } from '../forms.js';
import { translator, type MessageKey } from '../i18n/index.js';
import type { WebDeps } from '../index.js';
import { localeOf } from '../page.js';
import { createUserRoutes } from './create-user.js';
import type { AdminScope } from './inventory.js';
import {
  bounded,
  DEFAULT_PER_PAGE,
  MAX_PER_PAGE,
  MAX_QUERY,
  oneOf,
  ownEntry,
  pagingOf,
  PER_PAGE_CHOICES,
  sortOptions,
} from './list-query.js';
import { passwordResultRoutes } from './password-result.js';
import { userActions } from './user-actions.js';
import { userDetailRoutes } from './user-detail.js';
import { USER_FLASHES, userView } from './user-tools.js';

// CONTRACT.md §9 and §11: the users page, each user's page with the actions, the create
// form and the page that shows a generated password once.

const UsersQuery = z.object({
  q: field.transform((q) => q.trim().slice(0, MAX_QUERY)),
  status: oneOf(['active', 'blocked', 'unconfirmed'] as const, ''),
  sort: oneOf(Object.keys(USER_SORTS) as UserSort[], 'created_at'),
  order: oneOf(['asc', 'desc'] as const, 'desc'),
  page: bounded(1, 100_000, 1),
  per_page: bounded(1, MAX_PER_PAGE, DEFAULT_PER_PAGE),
  flash: field,
  who: field.transform((v) => v.slice(0, MAX_QUERY)),
});
type UsersQueryOut = z.output<typeof UsersQuery>;

const SORT_LABELS: Record<UserSort, MessageKey> = {
  username: 'adminColUsername',
  email: 'adminColEmail',
  confirmed: 'adminStatusConfirmed',
  blocked: 'adminStatusBlocked',
  created_at: 'adminColCreated',
  last_seen: 'adminColLastSeen',
  devices: 'adminColDevices',
};

// The list's own parameters: the flash of an action stays out of its links.
const listValues = (q: UsersQueryOut) => ({
  q: q.q,
  status: q.status,
  sort: q.sort,
  order: q.order,
  page: q.page,
  per_page: q.per_page,
});

export function usersRoutes(app: FastifyInstance, deps: WebDeps, scope: AdminScope) {
  const { db, clock } = deps;
  const { signedIn, adminPage } = scope;
  const adminUsers = createAdminUserService(deps);
  const oneTime = createOneTimeSecrets(deps);

  app.get('/admin/users', signedIn, async (request, reply) => {
    const query = UsersQuery.parse(request.query ?? {});
    const locale = localeOf(request, deps);
    const t = translator(locale);
    const { rows, total } = listUsersForAdmin(db, {
      q: query.q,
      status: query.status,
      sort: query.sort || 'created_at',
      order: query.order || 'desc',
      page: query.page,
      perPage: query.per_page,
    });
    const flashKey = ownEntry(USER_FLASHES, query.flash);
    return adminPage(
      request,
      reply,
      'admin-users',
      'adminUsersTitle',
      'users',
      {
        users: rows.map(userView(locale, t, clock.now())),
        query,
        total,
        count: t('adminUsersCount', { shown: String(rows.length), total: String(total) }),
        statuses: [
          { value: '', label: t('adminUsersStatusAll') },
          { value: 'active', label: t('adminStatusActive') },
          { value: 'blocked', label: t('adminStatusBlocked') },
          { value: 'unconfirmed', label: t('adminStatusUnconfirmed') },
        ],
        sorts: sortOptions(t, USER_SORTS, SORT_LABELS),
        perPages: PER_PAGE_CHOICES,
        filtered: Boolean(query.q || query.status),
        paging: pagingOf(t, '/admin/users', listValues(query), total),
      },
      flashKey ? { flash: { kind: 'info', key: flashKey, params: { username: query.who } } } : {},
    );
  });

  userActions(deps, scope, { adminUsers, oneTime });
  userDetailRoutes(app, deps, scope);
  createUserRoutes(app, deps, scope, oneTime);
  passwordResultRoutes(app, deps, scope, oneTime);
}
