import type { ConnectionOptions } from 'node:tls';
import type { SendMailOptions } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { Logger } from 'pino';
import type { Bus } from '../bus.js';
import type { Clock } from '../clock.js';
import type { Sqlite } from '../log/index.js';
import { isSmtpConfigured, type SmtpSettings } from '../projections/settings.js';
import { describeFailure, MailError, secretVariants } from './failure.js';
import { composeMail, transportOptions } from './message.js';
import { nodemailer } from './nodemailer.js';
import {
  dropExpiredMails,
  dueMails,
  markFailed,
  markSent,
  pendingMailCounts,
  takeQueuedMark,
} from './outbox.js';

/** The part of a nodemailer transporter the sender uses. */
export interface MailTransport {
  sendMail(message: SendMailOptions): Promise<unknown>;
  close(): void;
}

export interface MailSenderDeps {
  readonly db: Sqlite;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Read before every round, so a change made by another process is seen without restart. */
  getSettings(): SmtpSettings | undefined;
  decryptPassword(cipher: string): string;
  /** Decrypts the sealed params of a mail whose link carries a token (outbox.ts). */
  openSealedParams(cipher: string): string;
  /** Committed events nudge a round: a command may have written an outbox row. */
  readonly bus?: Bus;
  readonly transportFactory?: (options: SMTPTransport.Options) => MailTransport;
  /** Extra TLS options, e.g. the CA of a private SMTP server; none by default. */
  readonly tls?: ConnectionOptions;
  /** How often due retries are looked for; default 5 s. */
  readonly pollMs?: number;
}

export interface DeliveryRound {
  readonly sent: number;
  readonly failed: number;
}

export interface MailSender {
  start(): void;
  /** Stops nudges and the timer, and waits (a bounded time) for the round in progress. */
  stop(waitMs?: number): Promise<void>;
  /** Delivers the due mails; a call during a round runs one more round after it. */
  deliverDue(): Promise<DeliveryRound>;
  /** Mails delivered and delivery attempts failed since start (the metrics). */
  readonly counts: Readonly<DeliveryRound>;
}

const BATCH = 20;
const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 60 * 60_000;

/** 30 s, 1 min, 2 min, ... capped at an hour: a mail is retried until it is delivered. */
export const retryDelayMs = (failuresSoFar: number) =>
  Math.min(FIRST_RETRY_MS * 2 ** Math.min(failuresSoFar, 20), MAX_RETRY_MS);

export function createMailSender(deps: MailSenderDeps): MailSender {
  const { db, clock, logger } = deps;
  const factory = deps.transportFactory ?? ((options) => nodemailer().createTransport(options));
  let warnedUnconfigured = false;
  let stopped = false;
  const counts = { sent: 0, failed: 0 };

  async function round(): Promise<DeliveryRound> {
    let sent = 0;
    let failed = 0;
    // Also while SMTP is down: a link that no longer works is not worth keeping or sending.
    const expired = dropExpiredMails(db, clock.now());
    if (expired > 0) logger.info({ expired }, 'unsent mails dropped: their links expired');
    const settings = deps.getSettings();
    if (!isSmtpConfigured(settings)) {
      const { waiting } = pendingMailCounts(db);
      if (waiting > 0 && !warnedUnconfigured) {
        logger.warn({ waiting }, `SMTP not configured; ${waiting} mails waiting`);
        warnedUnconfigured = true;
      }
      return { sent, failed };
    }
    warnedUnconfigured = false;
    if (dueMails(db, clock.now(), 1).length === 0) return { sent, failed };
    let password: string | undefined;
    let transport: MailTransport | undefined;
    try {
      for (let more = true; more && !stopped;) {
        const rows = dueMails(db, clock.now(), BATCH);
        more = rows.length === BATCH;
        for (const row of rows) {
          if (stopped) break;
          try {
            if (!transport) {
              if (settings.user !== '' && settings.passwordCipher) {
                password = deps.decryptPassword(settings.passwordCipher);
              }
              transport = factory(transportOptions(settings, password, deps.tls));
            }
            await transport.sendMail(
              composeMail(row, settings.from, (cipher) => deps.openSealedParams(cipher)),
            );
            markSent(db, row.id, clock.now());
            sent++;
            counts.sent += 1;
            logger.info({ mailId: row.id, template: row.template }, 'mail sent');
          } catch (err) {
            const retryAt = new Date(clock.now().getTime() + retryDelayMs(row.attempts));
            const error = describeFailure(err, secretVariants(settings.user, password));
            markFailed(db, row.id, error, retryAt);
            failed++;
            counts.failed += 1;
            logger.warn(
              {
                mailId: row.id,
                template: row.template,
                attempts: row.attempts + 1,
                retryAt,
                error,
              },
              'mail delivery failed',
            );
            // The server, not this mail, failed: the others wait for the next round.
            if (!(err instanceof MailError)) {
              more = false;
              break;
            }
          }
        }
      }
    } finally {
      transport?.close();
    }
    return { sent, failed };
  }

  let running: Promise<DeliveryRound> | undefined;
  let following: Promise<DeliveryRound> | undefined;
  const deliverDue = (): Promise<DeliveryRound> => {
    if (!running) {
      running = round().finally(() => (running = undefined));
      return running;
    }
    following ??= running
      .catch(() => undefined)
      .then(() => {
        following = undefined;
        return deliverDue();
      });
    return following;
  };

  const kick = () => {
    if (stopped) return;
    deliverDue().catch((err: unknown) => logger.error({ err }, 'mail delivery round failed'));
  };
  let nudgeScheduled = false;
  const onCommitted = () => {
    if (nudgeScheduled || !takeQueuedMark(db)) return;
    nudgeScheduled = true;
    setImmediate(() => {
      nudgeScheduled = false;
      kick();
    });
  };
  let timer: NodeJS.Timeout | undefined;

  return {
    start() {
      stopped = false;
      deps.bus?.on('committed', onCommitted);
      timer = setInterval(kick, deps.pollMs ?? 5_000);
      timer.unref();
      kick();
    },
    async stop(waitMs = 5_000) {
      stopped = true;
      deps.bus?.off('committed', onCommitted);
      clearInterval(timer);
      // A mail cut off here was not marked sent: it goes out again after the restart.
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([running, following]),
        new Promise((done) => (timeout = setTimeout(done, waitMs))),
      ]);
      clearTimeout(timeout);
    },
    deliverDue,
    counts,
  };
}
