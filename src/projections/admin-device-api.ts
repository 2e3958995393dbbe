import type { Sqlite } from '../log/index.js';
import { prepared } from './query.js';

// The admin JSON API's devices and keys lists (CONTRACT.md §10), newest first. Each is one
// page of at most MAX_API_PAGE rows: devices_created serves the order and the offset.

export const MAX_API_PAGE = 1000;

export interface ApiPage {
  readonly page: number;
  readonly perPage: number;
}

export interface ApiDeviceRow {
  readonly id: string;
  readonly name: string;
  readonly client_version: string;
  readonly last_seen: string | null;
  readonly revoked_at: string | null;
  readonly created_at: string;
  readonly username: string;
}

export interface ApiKeyRow {
  readonly id: string;
  readonly name: string;
  readonly token_hint: string | null;
}

const bounds = ({ page, perPage }: ApiPage) => ({
  limit: Math.min(perPage, MAX_API_PAGE),
  offset: (page - 1) * Math.min(perPage, MAX_API_PAGE),
});

export const countDevices = (db: Sqlite): number =>
  (prepared(db, 'SELECT COUNT(*) AS n FROM devices').get() as { n: number }).n;

export const listDevicesForApi = (db: Sqlite, page: ApiPage): ApiDeviceRow[] =>
  prepared(
    db,
    `SELECT d.id, d.name, d.client_version, a.last_seen, d.revoked_at, d.created_at, u.username
     FROM devices d JOIN users u ON u.id = d.user_id
     LEFT JOIN device_activity a ON a.device_id = d.id
     ORDER BY d.created_at DESC, d.id DESC LIMIT @limit OFFSET @offset`,
  ).all(bounds(page)) as ApiDeviceRow[];

export const listKeysForApi = (db: Sqlite, page: ApiPage): ApiKeyRow[] =>
  prepared(
    db,
    `SELECT id, name, token_hint FROM devices
     ORDER BY created_at DESC, id DESC LIMIT @limit OFFSET @offset`,
  ).all(bounds(page)) as ApiKeyRow[];
