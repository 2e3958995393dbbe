import type { ConnectionOptions } from 'node:tls';
import type { Sqlite } from '../log/index.js';
import type { SmtpSettings } from '../projections/settings.js';
import { describeFailure, secretVariants } from './failure.js';
import { composeMail, transportOptions } from './message.js';
import { nodemailer } from './nodemailer.js';
import { findMail, type MailLocale, type OutboxRow } from './outbox.js';
import type { MailTransport } from './sender.js';

export type ProbeResult = { ok: true } | { ok: false; error: string };

/** nodemailer's transporter, as the probe uses it. */
interface ProbeTransport extends MailTransport {
  verify(): Promise<unknown>;
}

/**
 * A real SMTP conversation with settings that are not stored (the admin API's test): the
 * server's greeting, TLS and sign-in, then the smtp-test mail to `to`. The error comes back
 * with the password cut out; it is for the log, never for the page.
 */
export async function probeSmtp(
  settings: SmtpSettings,
  password: string | undefined,
  to: string,
  locale: MailLocale,
  tls?: ConnectionOptions,
): Promise<ProbeResult> {
  let transport: ProbeTransport | undefined;
  try {
    transport = nodemailer().createTransport(transportOptions(settings, password, tls));
    await transport.verify();
    // The same composition as an outbox mail, so the headers are checked the same way.
    const row: OutboxRow = {
      id: 0,
      created_at: '',
      recipient: to,
      template: 'smtp-test',
      locale,
      params: '{}',
      attempts: 0,
      next_attempt_at: '',
      last_error: null,
      sent_at: null,
      expires_at: null,
    };
    await transport.sendMail(composeMail(row, settings.from));
    return { ok: true };
  } catch (err) {
    return { ok: false, error: describeFailure(err, secretVariants(settings.user, password)) };
  } finally {
    transport?.close();
  }
}

export type MailOutcome =
  { state: 'sent' } | { state: 'failed'; error: string } | { state: 'pending' };

/**
 * Watches one outbox row until the sender has tried it or `waitMs` ran out: the sender
 * works after the commit (possibly in another instance), so the page waits a bounded time.
 */
export async function waitForMail(
  db: Sqlite,
  mailId: number,
  waitMs: number,
  stepMs = 100,
): Promise<MailOutcome> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const row = findMail(db, mailId);
    if (row?.sent_at) return { state: 'sent' };
    if (row && row.attempts > 0) return { state: 'failed', error: row.last_error ?? '' };
    if (Date.now() >= deadline) return { state: 'pending' };
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
