import type { Sqlite } from '../../src/log/index.js';
import { DEVICE_SORTS, VAULT_SORTS } from '../../src/projections/admin-inventory.js';
import { USER_SORTS } from '../../src/projections/admin-queries.js';

// What the web bench requests: every admin page and admin JSON call, with the parameters
// a person uses (search, each sort, filters, a far page). Extend ROUTES to measure more.

/** Values picked from the seeded database, so that filters and detail pages hit real rows. */
export interface RouteContext {
  /** A user with several devices. */
  readonly userId: string;
  readonly username: string;
  /** Three letters of that username: a search that matches a handful of users. */
  readonly needle: string;
  /** The vault with the most ops, and an ordinary one. */
  readonly bigVault: { readonly userId: string; readonly vaultId: string };
  readonly vault: { readonly userId: string; readonly vaultId: string };
  readonly usersLastPage: number;
  readonly devicesLastPage: number;
  readonly vaultsLastPage: number;
  /** A device id, for the keys and devices API filters. */
  readonly deviceId: string;
  /** A day in the middle of the history (ISO date), for time-range filters. */
  readonly midDay: string;
  readonly nextDay: string;
  /** A sequence number half-way through the log: the audit's older pages start there. */
  readonly olderSeq: number;
}

export interface BenchRoute {
  readonly name: string;
  readonly url: (c: RouteContext) => string;
  /** A page's weight (HTML + the CSS and JS it references) is measured too. */
  readonly kind: 'page' | 'json';
  /** Built by another section: a 404 means "not built". */
}

const e = encodeURIComponent;
const vaultQuery = (v: RouteContext['vault']) => `user=${e(v.userId)}&vault=${e(v.vaultId)}`;

// Every whitelisted sort, so that a sort added later is measured too.
const userSorts = Object.keys(USER_SORTS);
const deviceSorts = Object.keys(DEVICE_SORTS);
const vaultSorts = Object.keys(VAULT_SORTS);

export const ROUTES: readonly BenchRoute[] = [
  { name: 'dashboard', kind: 'page', url: () => '/admin/dashboard' },
  { name: 'users', kind: 'page', url: () => '/admin/users' },
  { name: 'users ?q=', kind: 'page', url: (c) => `/admin/users?q=${e(c.needle)}` },
  { name: 'users status=blocked', kind: 'page', url: () => '/admin/users?status=blocked' },
  ...userSorts.map((sort): BenchRoute => ({
    name: `users sort=${sort}`,
    kind: 'page',
    url: () => `/admin/users?sort=${sort}&order=asc`,
  })),
  { name: 'users last page', kind: 'page', url: (c) => `/admin/users?page=${c.usersLastPage}` },
  { name: 'user detail', kind: 'page', url: (c) => `/admin/user/?id=${e(c.userId)}` },
  { name: 'devices', kind: 'page', url: () => '/admin/devices' },
  { name: 'devices ?q=', kind: 'page', url: (c) => `/admin/devices?q=${e(c.needle)}` },
  { name: 'devices user=', kind: 'page', url: (c) => `/admin/devices?user=${e(c.userId)}` },
  {
    name: 'devices vault=',
    kind: 'page',
    url: (c) => `/admin/devices?vault=${e(c.bigVault.vaultId)}`,
  },
  { name: 'devices status=revoked', kind: 'page', url: () => '/admin/devices?status=revoked' },
  { name: 'devices status=active', kind: 'page', url: () => '/admin/devices?status=active' },
  ...deviceSorts.map((sort): BenchRoute => ({
    name: `devices sort=${sort}`,
    kind: 'page',
    url: () => `/admin/devices?sort=${sort}&order=asc`,
  })),
  {
    name: 'devices last page',
    kind: 'page',
    url: (c) => `/admin/devices?page=${c.devicesLastPage}`,
  },
  { name: 'vaults', kind: 'page', url: () => '/admin/vaults' },
  { name: 'vaults ?q=', kind: 'page', url: (c) => `/admin/vaults?q=${e(c.needle)}` },
  ...vaultSorts.map((sort): BenchRoute => ({
    name: `vaults sort=${sort}`,
    kind: 'page',
    url: () => `/admin/vaults?sort=${sort}&order=asc`,
  })),
  { name: 'vaults last page', kind: 'page', url: (c) => `/admin/vaults?page=${c.vaultsLastPage}` },
  {
    name: 'vault detail (biggest)',
    kind: 'page',
    url: (c) => `/admin/vault/?${vaultQuery(c.bigVault)}`,
  },
  { name: 'vault detail', kind: 'page', url: (c) => `/admin/vault/?${vaultQuery(c.vault)}` },
  // Sections other helpers build; measured once they exist.
  { name: 'storage', kind: 'page', url: () => '/admin/storage' },
  { name: 'audit', kind: 'page', url: () => '/admin/audit' },
  {
    name: 'audit event=',
    kind: 'page',
    url: () => '/admin/audit?event=device_revoked',
  },
  {
    name: 'audit user=',
    kind: 'page',
    url: (c) => `/admin/audit?user=${e(c.userId)}`,
  },
  {
    name: 'audit device=',
    kind: 'page',
    url: (c) => `/admin/audit?device=${e(c.deviceId)}`,
  },
  {
    name: 'audit from/to',
    kind: 'page',
    url: (c) => `/admin/audit?from=${c.midDay}&to=${c.nextDay}`,
  },
  {
    name: 'audit severity=warning',
    kind: 'page',
    url: () => '/admin/audit?severity=warning',
  },
  {
    name: 'audit older (before=)',
    kind: 'page',
    url: (c) => `/admin/audit?before=${c.olderSeq}`,
  },
  { name: 'settings', kind: 'page', url: () => '/admin/settings' },
  { name: 'diagnostics', kind: 'page', url: () => '/admin/diagnostics' },
  { name: 'diagnostics.json', kind: 'json', url: () => '/admin/diagnostics.json' },
  { name: 'api/stats', kind: 'json', url: () => '/admin/api/stats' },
  { name: 'api/users', kind: 'json', url: () => '/admin/api/users' },
  {
    name: 'api/users filter=',
    kind: 'json',
    url: (c) => `/admin/api/users?filter=${e(c.needle)}`,
  },
  ...userSorts.map((sort): BenchRoute => ({
    name: `api/users sort=${sort}`,
    kind: 'json',
    url: () => `/admin/api/users?sort=${sort}`,
  })),
  { name: 'api/devices', kind: 'json', url: () => '/admin/api/devices' },
  { name: 'api/keys', kind: 'json', url: () => '/admin/api/keys' },
];

/** Picks the values the routes need from the seeded projections. */
export function routeContext(db: Sqlite, perPage = 25): RouteContext {
  const one = <T>(sql: string, ...params: unknown[]) => db.prepare(sql).get(...params) as T;
  const user = one<{ id: string; username: string }>(
    `SELECT u.id, u.username FROM users u JOIN devices d ON d.user_id = u.id
     GROUP BY u.id HAVING COUNT(*) >= 2 ORDER BY u.id LIMIT 1`,
  );
  const big = one<{ user_id: string; vault_id: string }>(
    'SELECT user_id, vault_id FROM vaults ORDER BY op_count DESC LIMIT 1',
  );
  const ordinary = one<{ user_id: string; vault_id: string }>(
    `SELECT user_id, vault_id FROM vaults ORDER BY op_count
     LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM vaults)`,
  );
  const count = (table: string) => one<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).n;
  const lastPage = (n: number) => Math.max(1, Math.ceil(n / perPage));
  const range = one<{ lo: string; hi: string; head: number }>(
    'SELECT MIN(at) AS lo, MAX(at) AS hi, MAX(seq) AS head FROM events',
  );
  const mid = new Date((Date.parse(range.lo) + Date.parse(range.hi)) / 2);
  const day = mid.toISOString().slice(0, 10);
  const device = one<{ id: string }>('SELECT id FROM devices WHERE user_id = ? LIMIT 1', user.id);
  return {
    userId: user.id,
    username: user.username,
    needle: user.username.slice(0, 3),
    bigVault: { userId: big.user_id, vaultId: big.vault_id },
    vault: { userId: ordinary.user_id, vaultId: ordinary.vault_id },
    usersLastPage: lastPage(count('users')),
    devicesLastPage: lastPage(count('devices')),
    vaultsLastPage: lastPage(count('vaults')),
    deviceId: device.id,
    midDay: day,
    nextDay: new Date(mid.getTime() + 86_400_000).toISOString().slice(0, 10),
    olderSeq: Math.floor(range.head / 2),
  };
}
