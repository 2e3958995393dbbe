import type { FastifyRequest } from 'fastify';
import type { Locale } from '../../http/locale.js';
import type { Ids } from '../../ids.js';
import type { AdminUserRow } from '../../projections/admin-queries.js';
import { formatDate, formatRelative } from '../format.js';
import type { MessageKey, Translate } from '../i18n/index.js';
import { ADMIN_SESSION_COOKIE } from './session.js';

// Small pieces the users list, a user's page, the create form and the one-time password
// page share.

/** A password the console makes up: `hexChars` hex digits of a fresh 256-bit secret. */
export const generatedPassword = (ids: Pick<Ids, 'secret'>, hexChars: 24 | 32) =>
  ids.secret().slice(0, hexChars);

/** The admin session's token, which the one-time secret is kept under (as its sha256). */
export const adminTokenOf = (request: FastifyRequest) =>
  request.cookies[ADMIN_SESSION_COOKIE] ?? '';

/** A user's page in the console. */
export const userPageUrl = (id: string) => `/admin/user/?id=${encodeURIComponent(id)}`;

// User ids are hex (ids.ts); anything else in a user page's `back` is not one of ours.
const USER_PAGE = /^\/admin\/user\/\?id=[0-9A-Za-z_-]{1,64}$/;
const USERS_LIST = /^\/admin\/users(\?[^#\\\s]*)?$/;

/**
 * Where an action returns: the users list as it was shown, or the user's page it came
 * from; anything else (another site, another path) is the list's first page.
 */
export function backTo(back: string): string {
  return USERS_LIST.test(back) || USER_PAGE.test(back) ? back : '/admin/users';
}

/** After a deletion the user's page is gone: its actions return to the list instead. */
export const backAfterDelete = (back: string) => {
  const to = backTo(back);
  return USER_PAGE.test(to) ? '/admin/users' : to;
};

/** The list URL with an action's flash, naming the user it concerned. */
export const withFlash = (url: string, flash: string, who: string) => {
  const [path, search = ''] = url.split('?', 2) as [string, string?];
  const params = new URLSearchParams(search);
  params.set('flash', flash);
  params.set('who', who);
  return `${path}?${params.toString()}`;
};

/** The flashes the users list and a user's page show after an action. */
export const USER_FLASHES: Readonly<Record<string, MessageKey>> = {
  blocked: 'adminFlashBlocked',
  unblocked: 'adminFlashUnblocked',
  confirmed: 'adminFlashConfirmed',
  created: 'adminFlashCreated',
  updated: 'adminFlashUpdated',
  deleted: 'adminFlashDeleted',
};

/** A user as the list's row and the user's page show it. */
export const userView = (locale: Locale, t: Translate, now: Date) => (u: AdminUserRow) => ({
  id: u.id,
  href: userPageUrl(u.id),
  username: u.username,
  email: u.email,
  confirmed: u.confirmed === 1,
  blocked: u.blocked === 1,
  status: t(
    u.blocked === 1
      ? 'adminStatusBlocked'
      : u.confirmed === 1
        ? 'adminStatusActive'
        : 'adminStatusUnconfirmed',
  ),
  statusClass: u.blocked === 1 ? 'badge-warn' : u.confirmed === 1 ? 'badge-ok' : 'badge-muted',
  devices: u.devices,
  createdAt: u.created_at,
  created: formatDate(locale, u.created_at),
  lastSeenAt: u.last_seen ?? '',
  lastSeen: u.last_seen ? formatRelative(locale, u.last_seen, now) : '',
});
