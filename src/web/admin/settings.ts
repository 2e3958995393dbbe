import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  SmtpInputSchema,
  WebInputSchema,
  type SmtpInput,
  type WebInput,
} from '../../commands/settings-service.js';
import { SMTP_SECURITY } from '../../log/index.js';
import { waitForMail } from '../../mail/probe.js';
import { isSmtpConfigured } from '../../projections/settings.js';
import { EmailSchema } from '../../commands/user-service.js';
import { field } from '../forms.js';
import { translator, type MessageKey } from '../i18n/index.js';
import type { WebDeps } from '../index.js';
import { localeOf, type RenderOptions } from '../page.js';
import type { AdminScope } from './inventory.js';
import { ownEntry } from './list-query.js';

// CONTRACT.md §9 /admin/settings and §11 `web-settings`, `smtp`, `smtp-test`: every change
// is an event (WebSettingsChanged, SmtpSettingsChanged, SmtpTestRequested).

/** How long the page waits for the outbox sender to try the test mail. */
const TEST_WAIT_MS = 5_000;

const FLASHES: Record<string, { kind: 'info' | 'error'; key: MessageKey }> = {
  settings_saved: { kind: 'info', key: 'adminFlashSettingsSaved' },
  smtp_saved: { kind: 'info', key: 'adminFlashSmtpSaved' },
  smtp_test_passed: { kind: 'info', key: 'adminFlashSmtpTestPassed' },
  smtp_test_failed: { kind: 'error', key: 'adminFlashSmtpTestFailed' },
  smtp_test_pending: { kind: 'info', key: 'adminFlashSmtpTestPending' },
  smtp_not_configured: { kind: 'error', key: 'adminFlashSmtpNotConfigured' },
};

/** The field a rejected input names first, as the message the page shows for it. */
const PROBLEMS: Record<string, MessageKey> = {
  defaultLocale: 'adminSettingsBadLocale',
  serverName: 'adminSettingsBadServerName',
  publicUrl: 'adminSettingsBadPublicUrl',
  host: 'adminSettingsBadHost',
  port: 'adminSettingsBadPort',
  security: 'adminSettingsBadSecurity',
  user: 'adminSettingsBadUser',
  password: 'adminSettingsBadPass',
  from: 'adminSettingsBadFrom',
};

const WebForm = z.object({
  default_locale: field,
  allow_registration: field,
  server_name: field,
  public_url: field,
});
export const SmtpForm = z.object({
  smtp_host: field,
  smtp_port: field,
  smtp_security: field,
  smtp_user: field,
  smtp_pass: field,
  smtp_from: field,
});
const TestForm = z.object({ test_to: field });
const PageQuery = z.object({ flash: field });

const DEFAULT_PORTS: Record<string, number> = { none: 25, starttls: 587, tls: 465 };

/** A form's port: empty takes the security mode's usual one; anything but digits fails. */
export const portOf = (port: string, security: string): number =>
  port.trim() === ''
    ? (DEFAULT_PORTS[security] ?? 587)
    : /^\d{1,5}$/.test(port.trim())
      ? Number(port.trim())
      : Number.NaN;

/** A form body read like `readForm` does: anything unexpected reads as empty fields. */
export function formOf<S extends z.ZodObject>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  return parsed.success ? parsed.data : schema.parse({});
}

function problemOf(schema: z.ZodType, input: unknown): MessageKey | undefined {
  const parsed = schema.safeParse(input);
  if (parsed.success) return undefined;
  const path = String(parsed.error.issues[0]?.path[0] ?? '');
  return PROBLEMS[path] ?? 'adminSettingsBadHost';
}

/** What the forms show: the values in force, or those a refused submit sent. */
interface FormValues {
  readonly web?: WebInput;
  readonly smtp?: Omit<SmtpInput, 'password' | 'publicUrl'>;
  readonly testTo?: string;
}

export function settingsRoutes(app: FastifyInstance, deps: WebDeps, scope: AdminScope) {
  const { settings } = deps;
  const { signedIn, adminPage, actions } = scope;

  const page = (
    request: FastifyRequest,
    reply: FastifyReply,
    values: FormValues = {},
    options: RenderOptions = {},
  ) => {
    const t = translator(localeOf(request, deps));
    const web = deps.webSettings();
    const smtp = settings.current();
    return adminPage(
      request,
      reply,
      'admin-settings',
      'adminSettingsTitle',
      'settings',
      {
        web: values.web ?? { ...web, publicUrl: smtp?.publicUrl ?? '' },
        smtp: values.smtp ?? {
          host: smtp?.host ?? '',
          port: smtp?.port ?? 587,
          security: smtp?.security ?? 'starttls',
          user: smtp?.user ?? '',
          from: smtp?.from ?? '',
        },
        testTo: values.testTo ?? '',
        passwordSaved: smtp?.passwordCipher !== undefined,
        smtpConfigured: isSmtpConfigured(smtp),
        effectivePublicUrl: deps.publicUrl(),
        publicUrlMissing: deps.configuredPublicUrl() === '',
        serverNameHint: t('adminSettingsServerNameHint', { name: t('appName') }),
        locales: [
          { value: 'en', label: 'English' },
          { value: 'ru', label: 'Русский' },
        ],
        securities: SMTP_SECURITY.map((value) => ({
          value,
          label: t(
            value === 'tls'
              ? 'adminSettingsSecurityTls'
              : value === 'none'
                ? 'adminSettingsSecurityNone'
                : 'adminSettingsSecurityStarttls',
          ),
        })),
      },
      options,
    );
  };
  const refused = (key: MessageKey): RenderOptions => ({
    status: 400,
    flash: { kind: 'error', key },
  });

  app.get('/admin/settings', signedIn, async (request, reply) => {
    const flash = ownEntry(FLASHES, PageQuery.parse(request.query ?? {}).flash);
    return page(request, reply, {}, flash ? { flash } : {});
  });

  actions.set('web-settings', {
    reauth: true,
    run: async ({ request, reply, body, meta }) => {
      const form = formOf(WebForm, body);
      const input: WebInput = {
        defaultLocale: form.default_locale as WebInput['defaultLocale'],
        allowRegistration: form.allow_registration === 'on',
        serverName: form.server_name,
        publicUrl: form.public_url,
      };
      const problem = problemOf(WebInputSchema, input);
      if (problem) return page(request, reply, { web: input }, refused(problem));
      settings.changeWeb(input, meta);
      return reply.redirect('/admin/settings?flash=settings_saved', 303);
    },
  });

  actions.set('smtp', {
    reauth: true,
    run: async ({ request, reply, body, meta }) => {
      const form = formOf(SmtpForm, body);
      const smtp = {
        host: form.smtp_host,
        port: portOf(form.smtp_port, form.smtp_security),
        security: form.smtp_security as SmtpInput['security'],
        user: form.smtp_user,
        from: form.smtp_from,
      };
      // CONTRACT.md §11: every field is replaced, the password only when one was typed.
      const input: SmtpInput = {
        ...smtp,
        ...(form.smtp_pass !== '' ? { password: form.smtp_pass } : {}),
        publicUrl: settings.current()?.publicUrl ?? '',
      };
      const problem = problemOf(SmtpInputSchema, input);
      if (problem) return page(request, reply, { smtp }, refused(problem));
      settings.changeSmtp(input, meta);
      return reply.redirect('/admin/settings?flash=smtp_saved', 303);
    },
  });

  actions.set('smtp-test', {
    reauth: true,
    run: async ({ request, reply, body, meta }) => {
      const form = formOf(TestForm, body);
      const to = form.test_to.trim();
      if (to !== '' && !EmailSchema.safeParse(to).success) {
        return page(request, reply, { testTo: to }, refused('adminSettingsBadTestTo'));
      }
      if (!isSmtpConfigured(settings.current())) {
        return reply.redirect('/admin/settings?flash=smtp_not_configured', 303);
      }
      const { mailId } = settings.sendTestMail(to || undefined, meta, localeOf(request, deps));
      const outcome = await waitForMail(deps.db, mailId, TEST_WAIT_MS);
      if (outcome.state === 'failed') {
        // The SMTP server's words stay in the log: they can name hosts and accounts.
        request.log.warn({ mailId, error: outcome.error }, 'smtp test mail failed');
      }
      const flash =
        outcome.state === 'sent'
          ? 'smtp_test_passed'
          : outcome.state === 'failed'
            ? 'smtp_test_failed'
            : 'smtp_test_pending';
      return reply.redirect(`/admin/settings?flash=${flash}`, 303);
    },
  });
}
