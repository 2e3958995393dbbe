import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { z } from 'zod';
import { createAdminUserService } from '../../commands/admin-user-service.js';
import { AppError, badRequest, notFound } from '../../errors.js';
import { parseJsonBody, requestMeta, wireTime } from '../../http/body.js';
import { listUsersForAdmin, USER_SORTS, type UserSort } from '../../projections/admin-queries.js';
import { findUserById } from '../../projections/users.js';
import type { WebDeps } from '../index.js';
import { adminApi } from './api-guard.js';
import { bounded, oneOf, trimmed } from './list-query.js';
import { generatedPassword } from './user-tools.js';

// CONTRACT.md §10: the users as JSON, for automation (provisioning scripts). Two places
// differ from the reference on purpose: reset-password answers 404 for an unknown id (the
// reference made up a password for nobody), and it ends the user's browser sessions like
// every other password reset (RELIABILITY.md §2.4).

const ListQuery = z.object({
  filter: trimmed,
  sort: oneOf(Object.keys(USER_SORTS) as UserSort[], 'created_at'),
  order: oneOf(['asc', 'desc'] as const, 'desc'),
  page: bounded(1, 100_000, 1),
  per_page: bounded(1, 100, 20),
});

// Shape errors (a number for a name) are invalid_json; missing fields are checked below.
const text = z.string().optional().default('');
const CreateBody = z.object({ username: text, email: text, password: text });
const EditBody = z.object({ username: text, email: text });
const IdParams = z.object({ id: z.string().catch('') });

export function usersApiRoutes(app: FastifyInstance, deps: WebDeps) {
  const { db, users, limiter, configuredPublicUrl } = deps;
  const adminUsers = createAdminUserService(deps);
  // FastifyContextConfig declares no jsonErrors: its options are route options all the same.
  const guard = (write: boolean) =>
    adminApi(configuredPublicUrl, { write }) as RouteShorthandOptions;
  const read = guard(false);
  const write = guard(true);
  const metaOf = (request: FastifyRequest) =>
    requestMeta(request, `admin:${request.admin!.username}`);
  const userOf = (request: FastifyRequest) => {
    const { id } = IdParams.parse(request.params);
    const user = id ? findUserById(db, id) : undefined;
    if (!user) throw notFound('user not found');
    return user;
  };

  app.get('/admin/api/users', read, async (request) => {
    const q = ListQuery.parse(request.query ?? {});
    const { rows, total } = listUsersForAdmin(db, {
      q: q.filter,
      match: 'username',
      status: '',
      sort: q.sort || 'created_at',
      order: q.order || 'desc',
      page: q.page,
      perPage: q.per_page,
    });
    return {
      users: rows.map((u) => ({
        id: u.id,
        username: u.username,
        email: u.email,
        confirmed: u.confirmed,
        blocked: u.blocked,
        last_seen: wireTime(u.last_seen),
        created_at: wireTime(u.created_at),
        devices: u.devices,
      })),
      total,
      page: q.page,
      per_page: q.per_page,
    };
  });

  app.post('/admin/api/users/create', write, async (request) => {
    const body = parseJsonBody(CreateBody, request.body);
    if (!body.username.trim() || !body.email.trim() || !body.password) {
      throw badRequest('username, email and password required');
    }
    const userId = await users.register(
      { ...body, confirmed: true, locale: 'en' },
      'admin',
      metaOf(request),
    );
    return { status: 'ok', user_id: userId };
  });

  app.post('/admin/api/users/:id/block', write, async (request) => {
    const user = userOf(request);
    const blocked = user.blocked !== 1;
    users.setBlocked(user.id, blocked, metaOf(request));
    return { status: 'ok', blocked: blocked ? 1 : 0 };
  });

  app.post('/admin/api/users/:id/reset-password', write, async (request, reply) => {
    limiter.check('admin-reset', request.ip);
    const user = userOf(request);
    const password = generatedPassword(deps.ids, 24);
    await adminUsers.resetPassword(user.id, password, metaOf(request));
    reply.header('cache-control', 'no-store');
    return { status: 'ok', new_password: password };
  });

  app.post('/admin/api/users/:id/edit', write, async (request) => {
    const body = parseJsonBody(EditBody, request.body);
    if (!body.username.trim() || !body.email.trim())
      throw badRequest('username and email required');
    const user = userOf(request);
    adminUsers.update(user.id, body, metaOf(request));
    return { status: 'ok' };
  });

  app.delete('/admin/api/users/:id', write, async (request) => {
    const user = userOf(request);
    users.delete(user.id, metaOf(request));
    return { status: 'deleted' };
  });

  // Any other action of a user; another method on a known path is 405 before it gets here.
  // (A parameter, not a wildcard: the route list stays printable for the fuzz test.)
  app.post('/admin/api/users/:id/:action', write, async () => {
    throw new AppError(404, 'not_found', 'unknown action');
  });
}
