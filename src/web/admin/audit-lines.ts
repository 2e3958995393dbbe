import type { Locale } from '../../http/locale.js';
import type { EventOfType, EventType } from '../../log/index.js';
import { formatDate, formatSize } from '../format.js';
import type { MessageKey, Translate } from '../i18n/index.js';

// One human line per event type for /admin/audit. Each formatter reads named fields only:
// a token or session digest, a password hash, an SMTP cipher, a typed login, a mail's
// address or an op's payload never reach a line, whatever the event holds.

/** Display names for ids, from the projections; a gone account or device reads as such. */
export interface LineNames {
  user(id: string | undefined): string;
  device(id: string | undefined): string;
  /** A refusal summary's target: `user:<id>`, `admin:<name>`, `device:<id>` or `typed:<digest>`. */
  target(key: string): string;
}

export interface LineContext {
  readonly t: Translate;
  readonly locale: Locale;
  readonly names: LineNames;
}

export interface AuditLine {
  readonly text: string;
  /** Further lines under it (a refusal summary's reasons, sources and targets). */
  readonly details: readonly string[];
}

type Catalogued = Exclude<EventType, 'EventRedacted'>;
type Formatter<T extends Catalogued> = (
  data: EventOfType<T>['data'],
  ctx: LineContext,
) => string | AuditLine;

type Formatters = { [T in Catalogued]?: Formatter<T> };

const REASONS: Readonly<Record<string, MessageKey>> = {
  unknown_login: 'reasonUnknownLogin',
  wrong_password: 'reasonWrongPassword',
  account_blocked: 'reasonAccountBlocked',
  email_not_confirmed: 'reasonEmailNotConfirmed',
  invalid_credentials: 'reasonInvalidCredentials',
  missing_token: 'reasonMissingToken',
  invalid_token: 'reasonInvalidToken',
  revoked_device: 'reasonRevokedDevice',
  blocked_user: 'reasonBlockedUser',
  user_blocked: 'reasonBlockedUser',
  pair: 'reasonPair',
  'device-register': 'reasonDeviceRegister',
  'auth-test': 'reasonAuthTest',
  login: 'reasonLogin',
  register: 'reasonRegister',
  forgot: 'reasonForgot',
  reset: 'reasonReset',
  'admin-reset': 'reasonAdminReset',
};

/** A recorded reason in words; one this page does not know yet is shown as recorded. */
export const reasonText = (t: Translate, reason: string) => {
  const key = REASONS[reason];
  return key ? t(key) : reason.replace(/_/g, ' ');
};

const count = (ctx: LineContext, n: number) => new Intl.NumberFormat(ctx.locale).format(n);

const countedList = (ctx: LineContext, items: readonly { name: string; count: number }[]) =>
  items
    .map((i) => ctx.t('auditCounted', { name: i.name, count: count(ctx, i.count) }))
    .join(ctx.t('auditListSep'));

const REFUSAL_LINES: Readonly<Record<string, MessageKey>> = {
  user_login: 'lineRefusalsUserLogin',
  admin_login: 'lineRefusalsAdminLogin',
  device_auth: 'lineRefusalsDeviceAuth',
  rate_limit: 'lineRefusalsRateLimit',
};

const refusals: Formatter<'SecurityRefusalsCounted'> = (d, ctx) => {
  const { t } = ctx;
  const details: string[] = [];
  if (d.reasons.length > 0) {
    const list = d.reasons.map((r) => ({ name: reasonText(t, r.reason), count: r.count }));
    details.push(t('lineRefusalsReasons', { list: countedList(ctx, list) }));
  }
  if (d.sources.length > 0) {
    const list = d.sources.map((s) => ({ name: s.ip, count: s.count }));
    details.push(t('lineRefusalsSources', { list: countedList(ctx, list) }));
  }
  if (d.targets.length > 0) {
    const list = d.targets.map((s) => ({ name: ctx.names.target(s.key), count: s.count }));
    details.push(t('lineRefusalsTargets', { list: countedList(ctx, list) }));
  }
  // A window is minutes long: its end is told as a time when it falls on the same day.
  const sameDay = d.windowStart.slice(0, 10) === d.windowEnd.slice(0, 10);
  const end = new Date(d.windowEnd);
  const to =
    sameDay && !Number.isNaN(end.getTime())
      ? `${new Intl.DateTimeFormat(ctx.locale, { timeStyle: 'short', timeZone: 'UTC' }).format(end)} UTC`
      : formatDate(ctx.locale, d.windowEnd);
  const text = t(REFUSAL_LINES[d.kind] ?? 'lineRefusalsRateLimit', {
    count: count(ctx, d.count),
    from: formatDate(ctx.locale, d.windowStart),
    to,
  });
  return { text, details };
};

/** Every event type the log knows; a test fails when one is missing. */
export const AUDIT_LINES: Formatters = {
  UserRegistered: (d, { t, names }) =>
    t(
      d.registeredBy === 'self'
        ? 'lineUserRegisteredSelf'
        : d.registeredBy === 'admin'
          ? 'lineUserRegisteredAdmin'
          : 'lineUserRegisteredOperator',
      { user: names.user(d.userId) },
    ),
  UserBlocked: (d, { t, names }) => t('lineUserBlocked', { user: names.user(d.userId) }),
  UserUnblocked: (d, { t, names }) => t('lineUserUnblocked', { user: names.user(d.userId) }),
  UserDeleted: (d, ctx) =>
    ctx.t('lineUserDeleted', {
      user: ctx.names.user(d.userId),
      count: count(
        ctx,
        d.redacted.reduce((n, [from, to]) => n + to - from + 1, 0),
      ),
    }),
  UserUpdated: (d, { t, names }) =>
    t('lineUserUpdated', { user: names.user(d.userId), username: d.username }),
  EmailConfirmationRequested: (d, { t, names }) =>
    t('lineEmailConfirmationRequested', { user: names.user(d.userId) }),
  EmailConfirmed: (d, { t, names }) => t('lineEmailConfirmed', { user: names.user(d.userId) }),
  PasswordResetRequested: (d, { t, names }) =>
    t('linePasswordResetRequested', { user: names.user(d.userId) }),
  PasswordResetRefused: (d, { t, names }) =>
    d.userId
      ? t('linePasswordResetRefusedTooMany', { user: names.user(d.userId) })
      : t('linePasswordResetRefusedUnknown'),
  PasswordReset: (d, { t, names }) => t('linePasswordReset', { user: names.user(d.userId) }),
  UserLoggedIn: (d, { t, names }) => t('lineUserLoggedIn', { user: names.user(d.userId) }),
  SessionEnded: (d, { t, names }) =>
    t(
      d.reason === 'logout'
        ? 'lineSessionEndedLogout'
        : d.reason === 'blocked'
          ? 'lineSessionEndedBlocked'
          : 'lineSessionEndedReset',
      { user: names.user(d.userId) },
    ),
  // Written per attempt by older servers; what was typed is not shown, only a known account.
  LoginFailed: (d, { t, names }) =>
    t('lineLoginFailed', {
      user: d.userId ? names.user(d.userId) : t('auditUnknownAccount'),
      reason: reasonText(t, d.reason),
    }),
  RegistrationAttemptedForExistingEmail: (d, { t, names }) =>
    t('lineRegistrationAttempted', { user: names.user(d.userId) }),
  DevicePaired: (d, { t, names }) =>
    t('lineDevicePaired', { user: names.user(d.userId), device: d.name, vault: d.vaultId }),
  DeviceRevoked: (d, { t, names }) =>
    t(
      d.by === 'self'
        ? 'lineDeviceRevokedSelf'
        : d.by === 'user'
          ? 'lineDeviceRevokedUser'
          : 'lineDeviceRevokedAdmin',
      { user: names.user(d.userId), device: names.device(d.deviceId) },
    ),
  DeviceDeleted: (d, { t, names }) =>
    t('lineDeviceDeleted', { user: names.user(d.userId), device: names.device(d.deviceId) }),
  // The op's type and its entity's kind only: entity ids are file paths, payloads content.
  OperationPushed: (d, ctx) => {
    const params = {
      device: ctx.names.device(d.op.device_id),
      opType: d.op.op_type,
      entityType: d.op.entity_type,
      count: count(ctx, d.conflicts.length),
    };
    return ctx.t(
      d.conflicts.length > 0 ? 'lineOperationPushedConflicts' : 'lineOperationPushed',
      params,
    );
  },
  PushAnswered: (d, { t, names }) =>
    t('linePushAnswered', { user: names.user(d.userId), vault: d.vaultId }),
  BlobStored: (d, { t, locale }) => t('lineBlobStored', { size: formatSize(locale, d.size) }),
  BlobReferenced: (d, { t, locale, names }) =>
    t('lineBlobReferenced', {
      device: names.device(d.deviceId),
      size: formatSize(locale, d.size),
      vault: d.vaultId,
    }),
  SmtpSettingsChanged: (d, { t }) =>
    d.host ? t('lineSmtpSettingsChanged', { host: d.host }) : t('lineSmtpSettingsCleared'),
  SmtpTestRequested: (_d, { t }) => t('lineSmtpTestRequested'),
  WebSettingsChanged: (d, { t }) =>
    t('lineWebSettingsChanged', {
      locale: d.defaultLocale === 'ru' ? 'Русский' : 'English',
      registration: t(d.allowRegistration ? 'auditOpen' : 'auditClosed'),
    }),
  CleanupRan: (d, ctx) =>
    ctx.t('lineCleanupRan', {
      sessions: count(ctx, d.sessions),
      tokens: count(ctx, d.emailTokens),
      answers: count(ctx, d.pushAnswers),
      files: count(ctx, d.tempUploads + d.blobFiles),
    }),
  AdminLoggedIn: (d, { t }) => t('lineAdminLoggedIn', { admin: d.username }),
  AdminSessionEnded: (d, { t }) =>
    t(d.reason === 'logout' ? 'lineAdminSessionEndedLogout' : 'lineAdminSessionEndedReplaced', {
      admin: d.username,
    }),
  AdminLoginFailed: (d, { t }) => t('lineAdminLoginFailed', { reason: reasonText(t, d.reason) }),
  SecurityRefusalsCounted: refusals,
};

/** The catalogue's types by their names on the page. */
export const AUDIT_TYPE_NAMES: { readonly [T in Catalogued]?: MessageKey } = {
  UserRegistered: 'auditTypeUserRegistered',
  UserBlocked: 'auditTypeUserBlocked',
  UserUnblocked: 'auditTypeUserUnblocked',
  UserDeleted: 'auditTypeUserDeleted',
  UserUpdated: 'auditTypeUserUpdated',
  EmailConfirmationRequested: 'auditTypeEmailConfirmationRequested',
  EmailConfirmed: 'auditTypeEmailConfirmed',
  PasswordResetRequested: 'auditTypePasswordResetRequested',
  PasswordResetRefused: 'auditTypePasswordResetRefused',
  PasswordReset: 'auditTypePasswordReset',
  UserLoggedIn: 'auditTypeUserLoggedIn',
  SessionEnded: 'auditTypeSessionEnded',
  LoginFailed: 'auditTypeLoginFailed',
  RegistrationAttemptedForExistingEmail: 'auditTypeRegistrationAttemptedForExistingEmail',
  DevicePaired: 'auditTypeDevicePaired',
  DeviceRevoked: 'auditTypeDeviceRevoked',
  DeviceDeleted: 'auditTypeDeviceDeleted',
  OperationPushed: 'auditTypeOperationPushed',
  PushAnswered: 'auditTypePushAnswered',
  BlobStored: 'auditTypeBlobStored',
  BlobReferenced: 'auditTypeBlobReferenced',
  SmtpSettingsChanged: 'auditTypeSmtpSettingsChanged',
  SmtpTestRequested: 'auditTypeSmtpTestRequested',
  WebSettingsChanged: 'auditTypeWebSettingsChanged',
  CleanupRan: 'auditTypeCleanupRan',
  AdminLoggedIn: 'auditTypeAdminLoggedIn',
  AdminSessionEnded: 'auditTypeAdminSessionEnded',
  AdminLoginFailed: 'auditTypeAdminLoginFailed',
  SecurityRefusalsCounted: 'auditTypeSecurityRefusalsCounted',
};

/** The page's name of a type; a type this page does not know yet shows as stored. */
export const typeName = (t: Translate, type: string) => {
  const key = (AUDIT_TYPE_NAMES as Record<string, MessageKey | undefined>)[type];
  return key ? t(key) : type;
};

/** The line of one decoded event; undefined for a type without a formatter. */
export function lineOf(type: string, data: unknown, ctx: LineContext): AuditLine | undefined {
  const format = (AUDIT_LINES as Record<string, Formatter<Catalogued> | undefined>)[type];
  if (!format) return undefined;
  const line = format(data as never, ctx);
  return typeof line === 'string' ? { text: line, details: [] } : line;
}
