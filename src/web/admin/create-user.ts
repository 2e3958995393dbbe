import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { EmailSchema, PasswordSchema, UsernameSchema } from '../../commands/user-service.js';
import { requestMeta } from '../../http/body.js';
import type { OneTimeSecrets } from '../../projections/admin-one-time-secrets.js';
import { findUserById } from '../../projections/users.js';
import { hasUnsafeChars } from '../../security/text-hygiene.js';
import { csrfRefused } from '../dashboard.js';
import { field, isClientError, readForm } from '../forms.js';
import type { MessageKey } from '../i18n/index.js';
import type { WebDeps } from '../index.js';
import { localeOf } from '../page.js';
import { adminCsrfValid } from './session.js';
import { takenLead } from './user-actions.js';
import { adminTokenOf, generatedPassword, withFlash } from './user-tools.js';
import type { AdminScope } from './inventory.js';

// CONTRACT.md §9 `/admin/create-user`: a confirmed account, with a password the admin
// typed or one the server makes up and shows once.

const CreateForm = z.object({
  csrf_token: field,
  username: field,
  email: field,
  password: field,
  password_mode: field,
  locale: field,
});
type CreateInput = z.output<typeof CreateForm>;

/** The first rule the form breaks, in the order it lists its fields. */
function createProblem(form: CreateInput, generate: boolean): MessageKey | undefined {
  if (!form.username.trim() || !form.email.trim()) return 'errorRequired';
  if (hasUnsafeChars(form.username.trim()) || hasUnsafeChars(form.email.trim())) {
    return 'errorUnsafeText';
  }
  if (!UsernameSchema.safeParse(form.username).success) return 'errorUsername';
  if (!EmailSchema.safeParse(form.email).success) return 'errorEmail';
  if (generate) return undefined;
  if (!form.password) return 'errorRequired';
  if (!PasswordSchema.safeParse(form.password).success) return 'errorPassword';
  return undefined;
}

export function createUserRoutes(
  app: FastifyInstance,
  deps: WebDeps,
  { signedIn, adminPage }: AdminScope,
  oneTime: OneTimeSecrets,
) {
  const { users, configuredPublicUrl } = deps;

  const formPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    values: { username: string; email: string; generate: boolean; locale: string },
    refusal?: { status: number; key: MessageKey },
  ) =>
    adminPage(
      request,
      reply,
      'admin-create-user',
      'adminCreateUserTitle',
      'users',
      { values, locales: ['en', 'ru'] },
      refusal ? { status: refusal.status, flash: { kind: 'error', key: refusal.key } } : {},
    );

  app.get('/admin/create-user', signedIn, async (request, reply) =>
    formPage(request, reply, {
      username: '',
      email: '',
      generate: true,
      locale: localeOf(request, deps),
    }),
  );

  app.post('/admin/create-user', signedIn, async (request, reply) => {
    const form = readForm(CreateForm, request);
    if (!adminCsrfValid(request, form.csrf_token, configuredPublicUrl())) throw csrfRefused();
    const generate = form.password_mode !== 'typed';
    const locale = form.locale === 'ru' ? 'ru' : 'en';
    // Everything but the password goes back into the form.
    const values = { username: form.username, email: form.email, generate, locale };
    const problem = createProblem(form, generate);
    if (problem) return formPage(request, reply, values, { status: 400, key: problem });
    const password = generate ? generatedPassword(deps.ids, 32) : form.password;
    let username: string;
    try {
      const userId = await users.register(
        { username: form.username, email: form.email, password, confirmed: true, locale },
        'admin',
        requestMeta(request, `admin:${request.admin!.username}`),
      );
      username = findUserById(deps.db, userId)?.username ?? form.username.trim();
    } catch (err) {
      if (isClientError(err) && err.status === 409) {
        return formPage(request, reply, values, { status: 409, key: takenLead(err) });
      }
      throw err;
    }
    if (!generate) return reply.redirect(withFlash('/admin/users', 'created', username), 303);
    oneTime.keep(adminTokenOf(request), { username, password });
    return reply.redirect('/admin/password-result', 303);
  });
}
