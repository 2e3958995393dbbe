import type { Config } from '../config.js';
import type { EventOfType, RecordedEvent, Sqlite } from '../log/index.js';
import type { Projection } from './projection.js';
import { first, prepared, qb, run } from './query.js';

export interface SettingsTable {
  /** Always 1: the server has one set of settings. */
  id: number;
  smtp_host: string;
  smtp_port: number;
  smtp_security: string;
  smtp_user: string;
  smtp_password_cipher: string | null;
  smtp_from: string;
  public_url: string;
  updated_at: string;
}

export type SmtpSettings = EventOfType<'SmtpSettingsChanged'>['data'];
export type WebSettings = EventOfType<'WebSettingsChanged'>['data'];

// The web settings have a row of their own: they may be saved before any SMTP settings,
// whose row has no empty state. Plain SQL, as the table is read on every page.
const UPSERT_WEB = `INSERT INTO web_settings (id, default_locale, allow_registration, server_name, updated_at)
  VALUES (1, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET default_locale = excluded.default_locale,
    allow_registration = excluded.allow_registration, server_name = excluded.server_name,
    updated_at = excluded.updated_at`;

function applyWeb(db: Sqlite, event: RecordedEvent) {
  if (event.type !== 'WebSettingsChanged') return;
  const d = event.data;
  prepared(db, UPSERT_WEB).run(
    d.defaultLocale,
    d.allowRegistration ? 1 : 0,
    d.serverName,
    event.at,
  );
}

export const settingsProjection: Projection = {
  name: 'settings',
  // 2: the web settings (WebSettingsChanged) joined the SMTP settings.
  version: 2,
  tables: ['settings', 'web_settings'],
  handles: ['SmtpSettingsChanged', 'WebSettingsChanged'],
  init(db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS web_settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        default_locale TEXT NOT NULL,
        allow_registration INTEGER NOT NULL,
        server_name TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
    `);
    db.exec(`
      CREATE TABLE IF NOT EXISTS settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        smtp_host TEXT NOT NULL,
        smtp_port INTEGER NOT NULL,
        smtp_security TEXT NOT NULL,
        smtp_user TEXT NOT NULL,
        smtp_password_cipher TEXT,
        smtp_from TEXT NOT NULL,
        public_url TEXT NOT NULL,
        updated_at TEXT NOT NULL
      ) STRICT;
    `);
  },
  apply(db, event) {
    if (event.type === 'WebSettingsChanged') return applyWeb(db, event);
    if (event.type !== 'SmtpSettingsChanged') return;
    const d = event.data;
    const row = {
      id: 1,
      smtp_host: d.host,
      smtp_port: d.port,
      smtp_security: d.security,
      smtp_user: d.user,
      smtp_password_cipher: d.passwordCipher ?? null,
      smtp_from: d.from,
      public_url: d.publicUrl,
      updated_at: event.at,
    };
    run(
      db,
      qb
        .insertInto('settings')
        .values(row)
        .onConflict((oc) => oc.column('id').doUpdateSet(row)),
    );
  },
};

/** The stored settings, or undefined before the first SmtpSettingsChanged. */
export function findSettings(db: Sqlite): SmtpSettings | undefined {
  const row = first(db, qb.selectFrom('settings').selectAll().where('id', '=', 1));
  if (!row) return undefined;
  return {
    host: row.smtp_host,
    port: row.smtp_port,
    security: row.smtp_security as SmtpSettings['security'],
    user: row.smtp_user,
    ...(row.smtp_password_cipher !== null ? { passwordCipher: row.smtp_password_cipher } : {}),
    from: row.smtp_from,
    publicUrl: row.public_url,
  };
}

/** The base of every link the server mails; empty when no public URL is configured. */
export const publicUrlOf = (db: Sqlite): string => findSettings(db)?.publicUrl ?? '';

/** Mail can be delivered only with a server to talk to and a sender address. */
export const isSmtpConfigured = (s: SmtpSettings | undefined): s is SmtpSettings =>
  s !== undefined && s.host !== '' && s.from !== '';

/** The saved web settings, or undefined before the first WebSettingsChanged. */
export function findWebSettings(db: Sqlite): WebSettings | undefined {
  const row = prepared(
    db,
    'SELECT default_locale, allow_registration, server_name FROM web_settings WHERE id = 1',
  ).get() as
    { default_locale: string; allow_registration: number; server_name: string } | undefined;
  if (!row) return undefined;
  return {
    defaultLocale: row.default_locale === 'ru' ? 'ru' : 'en',
    allowRegistration: row.allow_registration === 1,
    serverName: row.server_name,
  };
}

type WebConfig = Pick<Config, 'default_locale' | 'web'>;

/** The web settings config.yml asks for (CONTRACT.md §13 `web.*`). */
export const configuredWebSettings = (config: WebConfig): WebSettings => ({
  defaultLocale: config.web.default_locale ?? config.default_locale,
  allowRegistration: config.web.allow_registration,
  serverName: config.web.server_name.trim(),
});

/**
 * The web settings in force: the latest WebSettingsChanged, else config.yml. Every page,
 * the registration routes and the diagnostics read them here.
 */
export const webSettingsOf = (db: Sqlite, config: WebConfig): WebSettings =>
  findWebSettings(db) ?? configuredWebSettings(config);
