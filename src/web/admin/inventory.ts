import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Locale } from '../../http/locale.js';
import {
  DEVICE_SORTS,
  listDevicesForAdmin,
  listVaultsForAdmin,
  VAULT_SORTS,
  vaultDetailForAdmin,
  type AdminDeviceRow,
  type AdminVaultRow,
  type DeviceSort,
  type VaultSort,
} from '../../projections/admin-inventory.js';
import { formatDate, formatRelative, formatSize } from '../format.js';
import { translator, type MessageKey, type Translate } from '../i18n/index.js';
import type { WebDeps } from '../index.js';
import { field } from '../forms.js';
import { localeOf, type RenderOptions } from '../page.js';
import type { AdminActions } from './actions.js';
import { DEVICE_FLASHES, deviceActions } from './device-actions.js';
import {
  bounded,
  DEFAULT_PER_PAGE,
  MAX_PER_PAGE,
  MAX_QUERY,
  oneOf,
  pageUrl,
  pagingOf,
  trimmed,
  ownEntry,
  PER_PAGE_CHOICES,
  sortOptions,
} from './list-query.js';

// CONTRACT.md §9: the devices and vaults pages and the vault detail; the devices' row
// actions are device-actions.ts. A device's id is only a form field, never shown, and an
// operation's payload is never read.

const DevicesQuery = z.object({
  q: trimmed,
  user: trimmed,
  vault: trimmed,
  version: trimmed,
  status: oneOf(['active', 'revoked'] as const, ''),
  sort: oneOf(Object.keys(DEVICE_SORTS) as DeviceSort[], 'created'),
  order: oneOf(['asc', 'desc'] as const, 'desc'),
  page: bounded(1, 100_000, 1),
  per_page: bounded(1, MAX_PER_PAGE, DEFAULT_PER_PAGE),
  flash: field,
  who: field.transform((v) => v.slice(0, MAX_QUERY)),
});
type DevicesQueryOut = z.output<typeof DevicesQuery>;

// The list's own parameters: an action's flash stays out of its links.
const listValues = (q: DevicesQueryOut) => ({
  q: q.q,
  user: q.user,
  vault: q.vault,
  version: q.version,
  status: q.status,
  sort: q.sort,
  order: q.order,
  page: q.page,
  per_page: q.per_page,
});

const VaultsQuery = z.object({
  q: trimmed,
  user: trimmed,
  sort: oneOf(Object.keys(VAULT_SORTS) as VaultSort[], 'last_activity'),
  order: oneOf(['asc', 'desc'] as const, 'desc'),
  page: bounded(1, 100_000, 1),
  per_page: bounded(1, MAX_PER_PAGE, DEFAULT_PER_PAGE),
});

const VaultDetailQuery = z.object({ user: trimmed, vault: trimmed });

export interface AdminScope {
  /** `POST /admin/action`'s actions: a section adds its own. */
  readonly actions: AdminActions;
  readonly signedIn: {
    preHandler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  };
  readonly adminPage: (
    request: FastifyRequest,
    reply: FastifyReply,
    page: string,
    titleKey: MessageKey,
    section: string,
    data: Record<string, unknown>,
    options?: RenderOptions,
  ) => Promise<unknown>;
  readonly adminError: (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    title: MessageKey,
    lead: MessageKey,
    back?: string,
  ) => Promise<unknown>;
}

/** A device row as the shared device table shows it (the devices list, a vault's and a user's page). */
export const deviceView = (locale: Locale, t: Translate, now: Date) => (d: AdminDeviceRow) => ({
  id: d.id,
  name: d.name,
  username: d.username,
  userId: d.user_id,
  vault: d.vault_id,
  vaultHref: pageUrl('/admin/vault/', { user: d.user_id, vault: d.vault_id }),
  version: d.client_version,
  revoked: d.revoked_at !== null,
  status: t(d.revoked_at === null ? 'adminStatusActive' : 'adminStatusRevoked'),
  statusClass: d.revoked_at === null ? 'badge-ok' : 'badge-muted',
  createdAt: d.created_at,
  created: formatDate(locale, d.created_at),
  lastSeenAt: d.last_seen ?? '',
  lastSeen: d.last_seen ? formatRelative(locale, d.last_seen, now) : '',
});

const vaultView = (locale: Locale, now: Date) => (v: AdminVaultRow) => {
  const count = (n: number) => new Intl.NumberFormat(locale).format(n);
  return {
    username: v.username,
    vault: v.vault_id,
    href: pageUrl('/admin/vault/', { user: v.user_id, vault: v.vault_id }),
    ops: count(v.op_count),
    head: count(v.head_seq),
    devices: count(v.devices),
    blobBytes: formatSize(locale, v.blob_bytes),
    lastActivityAt: v.last_activity,
    lastActivity: formatRelative(locale, v.last_activity, now),
  };
};

export function inventoryRoutes(app: FastifyInstance, deps: WebDeps, scope: AdminScope) {
  const { signedIn, adminPage, adminError } = scope;
  const { db, clock } = deps;
  deviceActions(deps, scope);

  app.get('/admin/devices', signedIn, async (request, reply) => {
    const query = DevicesQuery.parse(request.query ?? {});
    const locale = localeOf(request, deps);
    const t = translator(locale);
    const { rows, total } = listDevicesForAdmin(db, {
      q: query.q,
      user: query.user,
      vault: query.vault,
      version: query.version,
      status: query.status,
      sort: query.sort || 'created',
      order: query.order || 'desc',
      page: query.page,
      perPage: query.per_page,
    });
    const sortLabels: Record<DeviceSort, MessageKey> = {
      name: 'adminColDevice',
      user: 'adminColOwner',
      last_seen: 'adminColLastSeen',
      created: 'adminColPaired',
    };
    const flashKey = ownEntry<MessageKey>(DEVICE_FLASHES, query.flash);
    const flash = flashKey
      ? { flash: { kind: 'info' as const, key: flashKey, params: { name: query.who } } }
      : {};
    const list = listValues(query);
    return adminPage(
      request,
      reply,
      'admin-devices',
      'adminDevicesTitle',
      'devices',
      {
        devices: rows.map(deviceView(locale, t, clock.now())),
        back: pageUrl('/admin/devices', list),
        query,
        total,
        count: t('adminDevicesCount', { shown: String(rows.length), total: String(total) }),
        statuses: [
          { value: '', label: t('adminUsersStatusAll') },
          { value: 'active', label: t('adminStatusActive') },
          { value: 'revoked', label: t('adminStatusRevoked') },
        ],
        sorts: sortOptions(t, DEVICE_SORTS, sortLabels),
        perPages: PER_PAGE_CHOICES,
        filtered: Boolean(query.q || query.user || query.vault || query.version || query.status),
        paging: pagingOf(t, '/admin/devices', list, total),
      },
      flash,
    );
  });

  app.get('/admin/vaults', signedIn, async (request, reply) => {
    const query = VaultsQuery.parse(request.query ?? {});
    const locale = localeOf(request, deps);
    const t = translator(locale);
    const { rows, total } = listVaultsForAdmin(db, {
      q: query.q,
      user: query.user,
      sort: query.sort || 'last_activity',
      order: query.order || 'desc',
      page: query.page,
      perPage: query.per_page,
    });
    const sortLabels: Record<VaultSort, MessageKey> = {
      vault: 'adminColVault',
      user: 'adminColOwner',
      ops: 'adminColOps',
      last_activity: 'adminColLastActivity',
      created: 'adminColCreated',
    };
    return adminPage(request, reply, 'admin-vaults', 'adminVaultsTitle', 'vaults', {
      vaults: rows.map(vaultView(locale, clock.now())),
      query,
      total,
      count: t('adminVaultsCount', { shown: String(rows.length), total: String(total) }),
      sorts: sortOptions(t, VAULT_SORTS, sortLabels),
      perPages: PER_PAGE_CHOICES,
      filtered: Boolean(query.q || query.user),
      paging: pagingOf(t, '/admin/vaults', query, total),
    });
  });

  app.get('/admin/vault/', signedIn, async (request, reply) => {
    const query = VaultDetailQuery.parse(request.query ?? {});
    if (!query.user || !query.vault) {
      return adminError(
        request,
        reply,
        400,
        'adminBadVaultTitle',
        'adminBadVault',
        '/admin/vaults',
      );
    }
    const detail = vaultDetailForAdmin(db, query.user, query.vault);
    if (!detail) {
      return adminError(request, reply, 404, 'notFoundTitle', 'adminUnknownVault', '/admin/vaults');
    }
    const locale = localeOf(request, deps);
    const t = translator(locale);
    const now = clock.now();
    const devices = detail.devices.map(deviceView(locale, t, now));
    const active = devices.filter((d) => !d.revoked).length;
    const count = (n: number) => new Intl.NumberFormat(locale).format(n);
    return adminPage(request, reply, 'admin-vault', 'adminVaultTitle', 'vaults', {
      vault: vaultView(locale, now)(detail.vault),
      createdAt: detail.vault.created_at,
      created: formatDate(locale, detail.vault.created_at),
      blobs: count(detail.blobs),
      activeDevices: count(active),
      revokedDevices: count(devices.length - active),
      devices,
      // The row actions return to the devices list narrowed to this vault.
      back: pageUrl('/admin/devices', {
        user: detail.vault.user_id,
        vault: detail.vault.vault_id,
      }),
      devicesHref: pageUrl('/admin/devices', {
        user: detail.vault.user_id,
        vault: detail.vault.vault_id,
      }),
    });
  });
}
