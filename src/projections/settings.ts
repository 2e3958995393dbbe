import type { EventOfType, Sqlite } from '../log/index.js';
import type { Projection } from './projection.js';
import { first, qb, run } from './query.js';

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

export const settingsProjection: Projection = {
  name: 'settings',
  version: 1,
  tables: ['settings'],
  handles: ['SmtpSettingsChanged'],
  init(db) {
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
