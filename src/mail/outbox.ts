import type { Sqlite } from '../log/index.js';

/** Mails the server sends; each has an English and a Russian template. */
export type MailTemplateName =
  'confirm-email' | 'reset-password' | 'account-exists' | 'password-changed' | 'smtp-test';

export type MailLocale = 'en' | 'ru';

export interface OutboxMail {
  readonly to: string;
  readonly template: MailTemplateName;
  readonly locale: MailLocale;
  /** Template values; a one-time link lives here until the mail is sent. */
  readonly params: Readonly<Record<string, string>>;
}

export interface OutboxRow {
  readonly id: number;
  readonly created_at: string;
  readonly recipient: string;
  readonly template: MailTemplateName;
  readonly locale: MailLocale;
  readonly params: string;
  readonly attempts: number;
  readonly next_attempt_at: string;
  readonly last_error: string | null;
  readonly sent_at: string | null;
  readonly expires_at: string | null;
}

/**
 * The mail outbox: a side table, not a projection. A command writes its mail here in its
 * own transaction (HandleArgs.sideEffects), so a mail exists exactly when its command
 * committed; the sender delivers it later, and a replay of the log never sends mail.
 */
export function migrateOutbox(db: Sqlite): void {
  db.exec(`CREATE TABLE IF NOT EXISTS mail_outbox (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    recipient TEXT NOT NULL,
    template TEXT NOT NULL,
    locale TEXT NOT NULL,
    params TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    sent_at TEXT
  ) STRICT;
  CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (sent_at, next_attempt_at);`);
  const columns = db.prepare("SELECT name FROM pragma_table_info('mail_outbox')").pluck().all();
  // When the mail's one-time link stops working: past it, an unsent mail is pointless.
  if (!columns.includes('expires_at'))
    db.exec('ALTER TABLE mail_outbox ADD COLUMN expires_at TEXT');
}

/** Params stored sealed (encrypted) start with this; others are JSON text as written. */
const SEALED = 'sealed:';
/** The secret box's purpose for mail params: a cipher made for another use cannot pass. */
export const MAIL_PARAMS_PURPOSE = 'mail params';

export interface EnqueueOptions {
  /**
   * Encrypts the params (the secret box), for mails whose link carries a token: the
   * outbox may hold it for hours while SMTP is down, and a copy of the database must
   * not hand out working reset links.
   */
  readonly seal?: (plain: string) => string;
  /** When the link stops working; an unsent mail is dropped then (dropExpiredMails). */
  readonly expiresAt?: string;
}

/** A row's params as the templates take them; `open` decrypts sealed ones. */
export function paramsOf(
  row: Pick<OutboxRow, 'params'>,
  open: (cipher: string) => string,
): Record<string, string> {
  const text = row.params.startsWith(SEALED) ? open(row.params.slice(SEALED.length)) : row.params;
  return JSON.parse(text) as Record<string, string>;
}

/** Removes unsent mails whose link has expired; returns how many went. */
export function dropExpiredMails(db: Sqlite, now: Date): number {
  return db
    .prepare(
      'DELETE FROM mail_outbox WHERE sent_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?',
    )
    .run(now.toISOString()).changes;
}

// Connections that queued a mail since the sender last looked: most commits (every push)
// queue none, and the sender need not query the outbox after those.
const queuedOn = new WeakSet<Sqlite>();

/** Whether a mail was queued on `db` since the last call; clears the mark. */
export function takeQueuedMark(db: Sqlite): boolean {
  const queued = queuedOn.has(db);
  queuedOn.delete(db);
  return queued;
}

/**
 * Must run inside the command's transaction; returns the mail's id. CR/LF never reach a
 * mail header.
 */
export function enqueueMail(
  db: Sqlite,
  mail: OutboxMail,
  now: Date,
  options: EnqueueOptions = {},
): number {
  if (/[\r\n]/.test(mail.to)) throw new Error('mail recipient contains a line break');
  queuedOn.add(db);
  const params = JSON.stringify(mail.params);
  const result = db
    .prepare(
      `INSERT INTO mail_outbox (created_at, recipient, template, locale, params, next_attempt_at,
       expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      now.toISOString(),
      mail.to,
      mail.template,
      mail.locale,
      options.seal ? `${SEALED}${options.seal(params)}` : params,
      now.toISOString(),
      options.expiresAt ?? null,
    );
  return Number(result.lastInsertRowid);
}

export function findMail(db: Sqlite, id: number): OutboxRow | undefined {
  return db.prepare('SELECT * FROM mail_outbox WHERE id = ?').get(id) as OutboxRow | undefined;
}

/** Mails not yet sent, and how many of them have failed at least once. */
export function pendingMailCounts(db: Sqlite): { waiting: number; failing: number } {
  return db
    .prepare(
      `SELECT count(*) AS waiting, coalesce(sum(attempts > 0), 0) AS failing
       FROM mail_outbox WHERE sent_at IS NULL`,
    )
    .get() as { waiting: number; failing: number };
}

/** When the oldest mail not yet sent was queued (ISO time), undefined when none waits. */
export function oldestPendingMail(db: Sqlite): string | undefined {
  const row = db
    .prepare('SELECT min(created_at) AS oldest FROM mail_outbox WHERE sent_at IS NULL')
    .get() as { oldest: string | null };
  return row.oldest ?? undefined;
}

export function dueMails(db: Sqlite, now: Date, limit = 20): OutboxRow[] {
  return db
    .prepare(
      `SELECT * FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= ?
       ORDER BY next_attempt_at, id LIMIT ? + 0`,
    )
    .all(now.toISOString(), limit) as OutboxRow[];
}

/** Sent mails keep their envelope for the admin console but lose their one-time links. */
export function markSent(db: Sqlite, id: number, now: Date): void {
  db.prepare(
    `UPDATE mail_outbox SET sent_at = ?, params = '{}', attempts = attempts + 1, last_error = NULL
     WHERE id = ?`,
  ).run(now.toISOString(), id);
}

export function markFailed(db: Sqlite, id: number, error: string, retryAt: Date): void {
  db.prepare(
    `UPDATE mail_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?`,
  ).run(error.slice(0, 500), retryAt.toISOString(), id);
}
