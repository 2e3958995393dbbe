import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { fsyncPath } from './fsync.js';

const MiB = 1024 * 1024;

export const DEFAULT_PORT = 47732;

const LimitsSchema = z.object({
  /** Any JSON body except a push. */
  max_json_body: z
    .number()
    .int()
    .positive()
    .default(1 * MiB),
  /** A push body; larger answers 413 too_many_operations so the desktop halves its batch. */
  max_push_body: z
    .number()
    .int()
    .positive()
    .default(64 * MiB),
  max_push_operations: z.number().int().positive().default(1000),
  /** The desktop inlines text files up to 2 MiB; JSON escaping can double that. */
  max_payload_json: z
    .number()
    .int()
    .positive()
    .default(8 * MiB),
  max_pull_page: z.number().int().positive().default(1000),
  /**
   * Live sync (CONTRACT.md §19): event streams and waiting pulls held open at once, in all
   * and per user and device; past a cap the answer is 503 too_many_streams. The total stays
   * well under max_connections so that live connections cannot crowd out the rest.
   */
  max_live_connections: z.number().int().positive().default(512),
  max_live_per_user: z.number().int().positive().default(32),
  max_live_per_device: z.number().int().positive().default(4),
  max_blob_bytes: z
    .number()
    .int()
    .positive()
    .default(1024 * MiB),
  max_vault_blob_bytes: z
    .number()
    .int()
    .positive()
    .default(4096 * MiB),
  max_user_blob_bytes: z
    .number()
    .int()
    .positive()
    .default(8192 * MiB),
  /**
   * Open connections, idle keep-alive and lingering ones included: past either cap a new
   * connection is answered 503 too_many_connections (connection-limits.ts).
   */
  max_connections: z.number().int().positive().default(1024),
  /** Per client (IPv4 address, IPv6 /64); trusted proxies count only against the total. */
  max_connections_per_client: z.number().int().positive().default(64),
  /**
   * A blob upload must bring at least this much in every `timeouts.upload_rate_window_ms`
   * (averaged over the window); 4 KiB/s is below any uplink a person would sync over.
   */
  min_upload_bytes_per_s: z.number().int().positive().default(4096),
});

const TimeoutsSchema = z.object({
  headers_ms: z.number().int().positive().default(10_000),
  request_ms: z.number().int().positive().default(30_000),
  keep_alive_ms: z.number().int().positive().default(120_000),
  /** A comment on every open event stream this often, so that proxies keep it open. */
  live_heartbeat_ms: z.number().int().positive().default(25_000),
  /** The window over which an upload's rate is measured (see limits.min_upload_bytes_per_s). */
  upload_rate_window_ms: z.number().int().positive().default(30_000),
  /** Upper bound for a graceful shutdown before connections are cut. */
  shutdown_ms: z.number().int().positive().default(20_000),
});

const RetentionSchema = z.object({
  /** How long push idempotency answers are kept (CONTRACT.md §5.2). */
  idempotency_hours: z.number().positive().default(24),
  /** Staged uploads older than this are abandoned: a live upload writes continuously. */
  temp_upload_hours: z.number().positive().default(24),
  /** How often the server runs the retention cleanup; 0 turns the schedule off. */
  cleanup_interval_hours: z.number().nonnegative().default(6),
});

/**
 * CONTRACT.md §13 `web.*`: what the console shows until an admin saves the web settings
 * (the latest WebSettingsChanged wins over these). `default_locale` may also stand at the
 * top level, as older config files have it; `web.default_locale` wins when both are set.
 */
const WebSchema = z.object({
  default_locale: z.enum(['en', 'ru']).optional(),
  allow_registration: z.boolean().default(true),
  server_name: z.string().max(80).default(''),
});

/**
 * GET /metrics (README, "Metrics"): off unless one of these is set. `listen` serves it on a
 * separate address of its own (e.g. 127.0.0.1:9464); `token` serves it on the public listener
 * to requests bearing it. Both may be set.
 */
const MetricsSchema = z.object({
  listen: z.string().optional(),
  /** At least 16 characters: it guards figures about users' activity. */
  token: z.string().min(16).optional(),
});

const AdminSchema = z.object({
  username: z.string().min(1),
  password_hash: z.string().min(1),
});

export const ConfigSchema = z.object({
  listen: z.string().optional(),
  public_url: z.string().default(''),
  trusted_proxies: z.array(z.string()).default([]),
  default_locale: z.enum(['en', 'ru']).default('en'),
  web: WebSchema.default(WebSchema.parse({})),
  admin: z.array(AdminSchema).default([]),
  limits: LimitsSchema.default(LimitsSchema.parse({})),
  timeouts: TimeoutsSchema.default(TimeoutsSchema.parse({})),
  retention: RetentionSchema.default(RetentionSchema.parse({})),
  metrics: MetricsSchema.default(MetricsSchema.parse({})),
});

export type Config = z.infer<typeof ConfigSchema>;
export type Limits = Config['limits'];
export type Retention = Config['retention'];

export const configPath = (dataDir: string) => join(dataDir, 'config.yml');

/**
 * The base of links in mails: `public_url`, else the listen address. Never the Host
 * header, which a client controls (RELIABILITY.md §2.7).
 */
export const publicUrlOf = (config: Pick<Config, 'public_url' | 'listen'>): string =>
  config.public_url.trim().replace(/\/+$/, '') ||
  `http://${config.listen ?? `127.0.0.1:${DEFAULT_PORT}`}`;

export class ConfigError extends Error {}

export function loadConfig(dataDir: string): Config {
  const file = configPath(dataDir);
  const raw: unknown = existsSync(file) ? (YAML.parse(readFileSync(file, 'utf8')) ?? {}) : {};
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path.join('.') || '(root)';
    throw new ConfigError(`${file}: ${key}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Written to a temp file, fsynced and renamed, so a crash never leaves half a config. */
export function saveConfig(dataDir: string, config: Config): void {
  const file = configPath(dataDir);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, YAML.stringify(config), { mode: 0o600 });
  fsyncPath(tmp);
  renameSync(tmp, file);
}
