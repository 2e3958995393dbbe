import type { ConnectionOptions } from 'node:tls';
import type { SendMailOptions } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { SmtpSettings } from '../projections/settings.js';
import { MailError } from './failure.js';
import { paramsOf, type OutboxRow } from './outbox.js';
import { renderMail } from './templates.js';

// A bare address only: a comma or angle bracket would let one value name more recipients.
const BARE_ADDRESS = /^[^\s@<>()",;:\\[\]]+@[^\s@<>()",;:\\[\]]+$/;

function render(row: OutboxRow, open: (cipher: string) => string) {
  try {
    return renderMail(row.template, row.locale, paramsOf(row, open));
  } catch (err) {
    throw new MailError((err as Error).message);
  }
}

const noSealedParams = () => {
  throw new Error('sealed mail params and no key to open them');
};

/**
 * The message for one outbox row. Header values are checked again here, whatever wrote
 * the row: no line break and no second address ever reaches nodemailer (RELIABILITY §2.12).
 */
export function composeMail(
  row: OutboxRow,
  from: string,
  open: (cipher: string) => string = noSealedParams,
): SendMailOptions {
  const mail = render(row, open);
  const headers = { to: row.recipient, from, subject: mail.subject };
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(value)) throw new MailError(`the ${name} header contains a line break`);
  }
  if (!BARE_ADDRESS.test(row.recipient)) throw new MailError('the recipient is not a bare address');
  if (!BARE_ADDRESS.test(from)) throw new MailError('the sender is not a bare address');
  return {
    ...headers,
    text: mail.text,
    html: mail.html,
    headers: { 'Auto-Submitted': 'auto-generated' },
  };
}

export function transportOptions(
  s: SmtpSettings,
  password: string | undefined,
  tls?: ConnectionOptions,
): SMTPTransport.Options {
  return {
    host: s.host,
    port: s.port,
    secure: s.security === 'tls',
    requireTLS: s.security === 'starttls',
    ignoreTLS: s.security === 'none',
    ...(s.user !== '' ? { auth: { user: s.user, pass: password ?? '' } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    // Idle time on an open connection; some servers scan a message for a while after DATA.
    socketTimeout: 30_000,
    tls: { minVersion: 'TLSv1.2', ...tls },
    // nodemailer must never read a file or fetch a URL named in a message (RELIABILITY §0.8).
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}
