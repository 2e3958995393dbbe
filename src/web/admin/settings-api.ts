import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { SmtpInputSchema, type SmtpInput } from '../../commands/settings-service.js';
import { UNSET_SMTP } from '../../commands/settings.js';
import { EmailSchema, parseOrThrow } from '../../commands/user-service.js';
import { badRequest } from '../../errors.js';
import { requestMeta } from '../../http/body.js';
import { probeSmtp } from '../../mail/probe.js';
import { field } from '../forms.js';
import { translator } from '../i18n/index.js';
import type { WebDeps } from '../index.js';
import { localeOf } from '../page.js';
import { adminApi } from './api-guard.js';
import { formOf, portOf, SmtpForm } from './settings.js';

// CONTRACT.md §10: the SMTP part of the admin JSON API. Neither asks for the password again.

const ApiSmtpForm = SmtpForm.extend({ server_url: field });

/** A JSON port may be a number or a string of digits. */
const port = z.union([z.number(), z.string()]).optional().catch(undefined);
const TestBody = z.object({
  smtp_host: field.optional(),
  smtp_port: port,
  smtp_user: field.optional(),
  smtp_pass: field.optional(),
  smtp_security: field.optional(),
  smtp_from: field.optional(),
  test_to: field.optional(),
});

export function settingsApiRoutes(app: FastifyInstance, deps: WebDeps) {
  const { settings, configuredPublicUrl } = deps;
  const write = adminApi(configuredPublicUrl, { write: true });

  // Only the fields given are stored (the reference's behaviour): an empty one keeps its value.
  app.post('/admin/api/smtp', write, async (request, reply) => {
    const form = formOf(ApiSmtpForm, request.body);
    const stored = settings.current() ?? UNSET_SMTP;
    const given = (value: string) => value.trim() !== '';
    const security = given(form.smtp_security) ? form.smtp_security : stored.security;
    const input: SmtpInput = {
      host: given(form.smtp_host) ? form.smtp_host : stored.host,
      port: given(form.smtp_port) ? portOf(form.smtp_port, security) : stored.port,
      security: security as SmtpInput['security'],
      user: given(form.smtp_user) ? form.smtp_user : stored.user,
      ...(form.smtp_pass !== '' ? { password: form.smtp_pass } : {}),
      from: given(form.smtp_from) ? form.smtp_from : stored.from,
      publicUrl: given(form.server_url) ? form.server_url : stored.publicUrl,
    };
    settings.changeSmtp(input, requestMeta(request, `admin:${request.admin!.username}`));
    return reply.redirect('/admin/dashboard', 302);
  });

  // Tests the settings given, not the stored ones, and stores nothing: a real conversation.
  app.post('/admin/api/smtp/test', write, async (request) => {
    const parsed = TestBody.safeParse(request.body);
    if (!parsed.success) throw badRequest('a JSON object of SMTP settings is required');
    const body = parsed.data;
    const security = body.smtp_security || 'starttls';
    const smtp = parseOrThrow(SmtpInputSchema, {
      host: body.smtp_host ?? '',
      port:
        typeof body.smtp_port === 'number'
          ? body.smtp_port
          : portOf(body.smtp_port ?? '', security),
      security,
      user: body.smtp_user ?? '',
      from: body.smtp_from ?? '',
      publicUrl: '',
    });
    if (smtp.host === '') throw badRequest('smtp_host: is required');
    const to = parseOrThrow(EmailSchema, body.test_to || smtp.from);
    const stored = settings.current();
    // The console never shows the saved password: an empty one means "the saved one".
    const password =
      body.smtp_pass ||
      (stored?.passwordCipher && stored.user === smtp.user && smtp.user !== ''
        ? settings.decryptPassword(stored.passwordCipher)
        : undefined);
    const locale = localeOf(request, deps);
    const result = await probeSmtp(smtp, password, to, locale);
    if (result.ok) return { ok: true };
    request.log.warn({ host: smtp.host, port: smtp.port, error: result.error }, 'smtp test failed');
    return { ok: false, error: translator(locale)('adminSmtpTestFailed') };
  });
}
