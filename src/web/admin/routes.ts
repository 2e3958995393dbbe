import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requestMeta } from '../../http/body.js';
import { adminStats } from '../../projections/admin-queries.js';
import { findSettings, isSmtpConfigured } from '../../projections/settings.js';
import { csrfRefused } from '../dashboard.js';
import { renderError } from '../errors.js';
import { field, isRateLimited, readForm, withinLimit } from '../forms.js';
import { formatRelative, formatSize } from '../format.js';
import { translator, type MessageKey, type Translate } from '../i18n/index.js';
import type { WebDeps } from '../index.js';
import { localeOf, refusalOptions, renderPage, type RenderOptions } from '../page.js';
import { formTokenValid } from '../tokens.js';
import type { AdminActions } from './actions.js';
import { devicesApiRoutes } from './devices-api.js';
import { diagnosticsRoutes } from './diagnostics.js';
import { auditRoutes } from './audit.js';
import { inventoryRoutes } from './inventory.js';
import { settingsRoutes } from './settings.js';
import { settingsApiRoutes } from './settings-api.js';
import { storageRoutes } from './storage.js';
import { usersRoutes } from './users.js';
import { usersApiRoutes } from './users-api.js';
import {
  ADMIN_SESSION_COOKIE,
  adminCsrfValid,
  clearAdminCookies,
  setAdminCookies,
} from './session.js';

const LoginForm = z.object({ username: field, password: field, locale_csrf: field });
const LogoutForm = z.object({ csrf_token: field });
const ActionForm = z.object({ csrf_token: field, action: field, password: field });

/** The console's sections, in the order of the navigation. */
const SECTIONS = [
  { key: 'dashboard', href: '/admin/dashboard', label: 'adminNavDashboard' },
  { key: 'users', href: '/admin/users', label: 'adminNavUsers' },
  { key: 'devices', href: '/admin/devices', label: 'adminNavDevices' },
  { key: 'vaults', href: '/admin/vaults', label: 'adminNavVaults' },
  { key: 'storage', href: '/admin/storage', label: 'adminNavStorage' },
  { key: 'audit', href: '/admin/audit', label: 'adminNavAudit' },
  { key: 'settings', href: '/admin/settings', label: 'adminNavSettings' },
  { key: 'diagnostics', href: '/admin/diagnostics', label: 'adminNavDiagnostics' },
] as const satisfies readonly { key: string; href: string; label: MessageKey }[];

const navOf = (t: Translate, active: string) =>
  SECTIONS.map((s) => ({ href: s.href, label: t(s.label), current: s.key === active }));

/** CONTRACT.md §9 and §11: the admin console's sign-in, overview, users and actions. */
export async function adminRoutes(app: FastifyInstance, deps: WebDeps) {
  const { adminSessions, limiter, configuredPublicUrl, db, clock } = deps;

  app.decorateRequest('admin', null);
  app.addHook('onRequest', (request, _reply, done) => {
    // A user session opens nothing here, and is not shown either.
    request.account = null;
    request.admin = adminSessions.authenticate(request.cookies[ADMIN_SESSION_COOKIE] ?? '') ?? null;
    done();
  });

  /** Pages behind the admin session: anything else goes to the admin sign-in (§3.2). */
  const signedIn = { preHandler: requireAdmin };
  async function requireAdmin(request: FastifyRequest, reply: FastifyReply) {
    if (!request.admin) return reply.redirect('/admin/login', 302);
    return undefined;
  }

  const adminPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    page: string,
    titleKey: MessageKey,
    section: string,
    data: Record<string, unknown>,
    options: RenderOptions = {},
  ) => {
    const t = translator(localeOf(request, deps));
    return renderPage(
      request,
      reply,
      deps,
      page,
      titleKey,
      { ...data, adminNav: navOf(t, section) },
      { ...options, noStore: true },
    );
  };

  const adminError = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    title: MessageKey,
    lead: MessageKey,
    back = '/admin/users',
  ) => {
    const t = translator(localeOf(request, deps));
    return renderPage(
      request,
      reply,
      deps,
      'error',
      title,
      { message: t(lead), next: { href: back, label: t('adminBack') } },
      { status, noStore: true },
    );
  };

  app.get('/admin', async (_request, reply) => reply.redirect('/admin/dashboard', 302));

  const loginPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    username = '',
    failure?: { status: number; key: MessageKey },
  ) =>
    renderPage(
      request,
      reply,
      deps,
      'admin-login',
      'adminLoginTitle',
      { username },
      {
        noStore: true,
        ...refusalOptions(failure),
      },
    );

  app.get('/admin/login', async (request, reply) =>
    request.admin ? reply.redirect('/admin/dashboard', 302) : loginPage(request, reply),
  );

  app.post('/admin/login', async (request, reply) => {
    const form = readForm(LoginForm, request);
    if (!formTokenValid(request, form.locale_csrf, configuredPublicUrl())) {
      return renderError(request, reply, deps, 403);
    }
    const refused = { status: 401, key: 'adminLoginFailed' as const };
    if (!form.username.trim() || !form.password || Buffer.byteLength(form.username) > 320) {
      return loginPage(request, reply, form.username, refused);
    }
    // The user login's per-client budget; the admin's name has its own in the database.
    const limited = { status: 429, key: 'errorRateLimited' as const };
    if (!withinLimit(limiter, 'login', request)) {
      return loginPage(request, reply, form.username, limited);
    }
    let session: Awaited<ReturnType<typeof adminSessions.login>>;
    try {
      session = await adminSessions.login(
        form.username,
        form.password,
        request.cookies[ADMIN_SESSION_COOKIE] ?? '',
        requestMeta(request, 'anonymous'),
      );
    } catch (err) {
      if (isRateLimited(err)) return loginPage(request, reply, form.username, limited);
      throw err;
    }
    if (!session) return loginPage(request, reply, form.username, refused);
    setAdminCookies(request, reply, session.token, configuredPublicUrl());
    return reply.redirect('/admin/dashboard', 303);
  });

  app.post('/admin/logout', async (request, reply) => {
    if (!request.admin) return reply.redirect('/admin/login', 302);
    const form = readForm(LogoutForm, request);
    if (!adminCsrfValid(request, form.csrf_token, configuredPublicUrl())) throw csrfRefused();
    adminSessions.logout(
      request.cookies[ADMIN_SESSION_COOKIE] ?? '',
      requestMeta(request, `admin:${request.admin.username}`),
    );
    clearAdminCookies(reply);
    return reply.redirect('/admin/login', 303);
  });

  app.get('/admin/dashboard', signedIn, async (request, reply) => {
    const locale = localeOf(request, deps);
    const now = clock.now();
    const stats = adminStats(db, now);
    const t = translator(locale);
    const warnings: string[] = [];
    if (!isSmtpConfigured(findSettings(db))) warnings.push(t('adminWarnSmtp'));
    if (!configuredPublicUrl()) warnings.push(t('adminWarnPublicUrl', { url: deps.publicUrl() }));
    const count = (n: number) => new Intl.NumberFormat(locale).format(n);
    return adminPage(request, reply, 'admin-dashboard', 'adminDashboardTitle', 'dashboard', {
      warnings,
      stats: {
        users: count(stats.users),
        activeUsers: count(stats.activeUsers),
        blockedUsers: count(stats.blockedUsers),
        unconfirmedUsers: count(stats.unconfirmedUsers),
        activeDevices: count(stats.activeDevices),
        revokedDevices: count(stats.revokedDevices),
        vaults: count(stats.vaults),
        operations: count(stats.operations),
        operations24h: count(stats.operations24h),
        blobs: count(stats.blobs),
        blobBytes: formatSize(locale, stats.blobBytes),
        lastSyncAt: stats.lastSyncActivity,
        lastSync: stats.lastSyncActivity ? formatRelative(locale, stats.lastSyncActivity, now) : '',
      },
    });
  });

  const actions: AdminActions = new Map();

  app.post('/admin/action', signedIn, async (request, reply) => {
    const admin = request.admin!;
    const form = readForm(ActionForm, request);
    if (!adminCsrfValid(request, form.csrf_token, configuredPublicUrl())) throw csrfRefused();
    const action = actions.get(form.action);
    if (!action) return adminError(request, reply, 400, 'adminBadActionTitle', 'adminBadAction');
    if (action.reauth) {
      // CONTRACT.md §3.4: the admin's password again, counted like the user's re-checks.
      const limited = () =>
        adminError(request, reply, 429, 'adminWrongPasswordTitle', 'adminRateLimited');
      if (!withinLimit(limiter, 'auth-test', request)) return limited();
      let passwordOk: boolean;
      try {
        passwordOk = await adminSessions.passwordMatches(admin.username, form.password, request.ip);
      } catch (err) {
        if (isRateLimited(err)) return limited();
        throw err;
      }
      if (!passwordOk) {
        return adminError(request, reply, 403, 'adminWrongPasswordTitle', 'adminWrongPassword');
      }
    }
    const meta = requestMeta(request, `admin:${admin.username}`);
    return action.run({ request, reply, admin, body: request.body, meta });
  });

  inventoryRoutes(app, deps, { signedIn, adminPage, adminError, actions });
  usersRoutes(app, deps, { signedIn, adminPage, adminError, actions });
  usersApiRoutes(app, deps);
  devicesApiRoutes(app, deps);
  settingsRoutes(app, deps, { signedIn, adminPage, adminError, actions });
  settingsApiRoutes(app, deps);
  storageRoutes(app, deps, { signedIn, adminPage, adminError, actions });
  diagnosticsRoutes(app, deps, { signedIn, adminPage, adminError, actions });
  auditRoutes(app, deps, { signedIn, adminPage, adminError, actions });
}
