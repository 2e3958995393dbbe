import { z } from 'zod';
import { adminConfirmDecider } from '../../commands/admin.js';
import type { AdminUserService } from '../../commands/admin-user-service.js';
import { userStream } from '../../commands/user.js';
import { loadUserState } from '../../commands/user-service.js';
import type { AppError } from '../../errors.js';
import type { OneTimeSecrets } from '../../projections/admin-one-time-secrets.js';
import { findUserById } from '../../projections/users.js';
import { field, isClientError } from '../forms.js';
import type { WebDeps } from '../index.js';
import type { AdminScope } from './inventory.js';
import {
  adminTokenOf,
  backAfterDelete,
  backTo,
  generatedPassword,
  withFlash,
} from './user-tools.js';

// CONTRACT.md §11: the actions of the users list and of a user's page. The dispatcher has checked CSRF and, for the
// re-authenticated ones, the admin's password before any of these runs.

const UserActionForm = z.object({ id: field, back: field });
const EditForm = z.object({ id: field, back: field, username: field, email: field });

export function userActions(
  deps: WebDeps,
  { actions, adminError }: AdminScope,
  tools: { adminUsers: AdminUserService; oneTime: OneTimeSecrets },
) {
  const { db, users } = deps;
  const { adminUsers, oneTime } = tools;

  const userOf = (body: unknown) => {
    const form = UserActionForm.safeParse(body);
    const id = form.success ? form.data.id : '';
    return {
      user: id ? findUserById(db, id) : undefined,
      back: form.success ? form.data.back : '',
    };
  };

  actions.set('toggle-user', {
    reauth: true,
    run: async ({ request, reply, body, meta }) => {
      const { user, back } = userOf(body);
      if (!user) return adminError(request, reply, 404, 'notFoundTitle', 'adminUnknownUser');
      const block = user.blocked !== 1;
      users.setBlocked(user.id, block, meta);
      return reply.redirect(
        withFlash(backTo(back), block ? 'blocked' : 'unblocked', user.username),
        303,
      );
    },
  });

  actions.set('confirm-user', {
    reauth: true,
    run: async ({ request, reply, body, meta }) => {
      const { user, back } = userOf(body);
      if (!user) return adminError(request, reply, 404, 'notFoundTitle', 'adminUnknownUser');
      deps.handle({
        stream: userStream(user.id),
        decider: adminConfirmDecider,
        meta,
        loadState: (tx) => loadUserState(tx, user.id),
        command: { type: 'AdminConfirmUser', data: { userId: user.id } },
      });
      return reply.redirect(withFlash(backTo(back), 'confirmed', user.username), 303);
    },
  });

  actions.set('edit-user', {
    reauth: false,
    run: async ({ request, reply, body, meta }) => {
      const parsed = EditForm.safeParse(body);
      const form = parsed.success ? parsed.data : EditForm.parse({});
      const user = form.id ? findUserById(db, form.id) : undefined;
      if (!user) return adminError(request, reply, 404, 'notFoundTitle', 'adminUnknownUser');
      try {
        adminUsers.update(user.id, { username: form.username, email: form.email }, meta);
      } catch (err) {
        if (!isClientError(err)) throw err;
        if (err.status === 409) {
          const lead = takenLead(err);
          return adminError(request, reply, 409, 'adminTakenTitle', lead, backTo(form.back));
        }
        return adminError(
          request,
          reply,
          400,
          'adminBadUserTitle',
          'adminBadUser',
          backTo(form.back),
        );
      }
      const renamed = findUserById(db, user.id)?.username ?? user.username;
      return reply.redirect(withFlash(backTo(form.back), 'updated', renamed), 303);
    },
  });

  actions.set('reset-user-password', {
    reauth: true,
    run: async ({ request, reply, body, meta }) => {
      const { user } = userOf(body);
      if (!user) return adminError(request, reply, 404, 'notFoundTitle', 'adminUnknownUser');
      const password = generatedPassword(deps.ids, 32);
      await adminUsers.resetPassword(user.id, password, meta);
      oneTime.keep(adminTokenOf(request), { username: user.username, password });
      return reply.redirect('/admin/password-result', 303);
    },
  });

  actions.set('delete-user', {
    reauth: true,
    run: async ({ request, reply, body, meta }) => {
      const { user, back } = userOf(body);
      if (!user) return adminError(request, reply, 404, 'notFoundTitle', 'adminUnknownUser');
      users.delete(user.id, meta);
      return reply.redirect(withFlash(backAfterDelete(back), 'deleted', user.username), 303);
    },
  });
}

/** Which of the two is taken, from the decider's refusal. */
export const takenLead = (err: AppError) =>
  /username/.test(err.message) ? ('adminUsernameTaken' as const) : ('adminEmailTaken' as const);
