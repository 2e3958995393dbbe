import type { Logger } from 'pino';
import type { Runtime } from '../runtime.js';
import { MAIL_PARAMS_PURPOSE } from './outbox.js';
import { createMailSender, type MailSender, type MailSenderDeps } from './sender.js';

export type MailerOptions = Partial<Pick<MailSenderDeps, 'transportFactory' | 'tls' | 'pollMs'>>;

/**
 * The outbox sender of a running server, bound to its database, clock and bus. Not part of
 * the Runtime: operator commands open a runtime too, and they must never deliver mail.
 */
export function createMailer(
  runtime: Pick<Runtime, 'db' | 'clock' | 'bus' | 'settings' | 'secrets'>,
  logger: Logger,
  options: MailerOptions = {},
): MailSender {
  return createMailSender({
    db: runtime.db,
    clock: runtime.clock,
    bus: runtime.bus,
    logger: logger.child({ component: 'mail' }),
    getSettings: () => runtime.settings.current(),
    decryptPassword: (cipher) => runtime.settings.decryptPassword(cipher),
    openSealedParams: (cipher) => runtime.secrets.decrypt(cipher, MAIL_PARAMS_PURPOSE),
    ...options,
  });
}
