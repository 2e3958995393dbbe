import { afterEach, describe, expect, it } from 'vitest';
import type { OutboxRow } from '../../../src/mail/outbox.js';
import {
  HOUR,
  MINUTE,
  START,
  closeMailFlows,
  confirm,
  emailOf,
  linkOf,
  login,
  register,
  startMailFlow,
  tokenIn,
  type MailFlow,
} from './mail-rig.js';

afterEach(closeMailFlows);

const CONFIRM_PATH = '/api/v1/auth/confirm?token=';
const at = (ms: number) => new Date(Date.parse(START) + ms).toISOString();

const rows = (flow: MailFlow) =>
  flow.server.runtime.db.prepare('SELECT * FROM mail_outbox ORDER BY id').all() as OutboxRow[];

async function until(what: string, done: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('registering while the SMTP server is down', () => {
  it('answers 200, keeps the mail with its error, and delivers it exactly once when SMTP is back', async () => {
    const flow = await startMailFlow({ smtpDown: true, manualDelivery: true });
    const res = await register(flow, 'alice');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'confirmation_sent' });

    expect(await flow.mailer.deliverDue()).toEqual({ sent: 0, failed: 1 });
    const [waiting] = rows(flow);
    expect(rows(flow)).toHaveLength(1);
    expect(waiting).toMatchObject({
      recipient: emailOf('alice'),
      template: 'confirm-email',
      attempts: 1,
      sent_at: null,
      next_attempt_at: at(30_000),
    });
    expect(waiting!.last_error).toMatch(/ECONNREFUSED|ECONNECTION/);
    expect(flow.logs.some((l) => l.includes('mail delivery failed'))).toBe(true);

    const smtp = await flow.startSmtp();
    // Back up, but the backoff has not ended: nothing is tried yet.
    expect(await flow.mailer.deliverDue()).toEqual({ sent: 0, failed: 0 });
    flow.clock.advance(MINUTE);
    expect(await flow.mailer.deliverDue()).toEqual({ sent: 1, failed: 0 });
    const [mail] = await smtp.waitForMessages(1);
    flow.clock.advance(HOUR);
    expect(await flow.mailer.deliverDue()).toEqual({ sent: 0, failed: 0 });
    expect(smtp.messages).toHaveLength(1);
    expect(rows(flow)[0]).toMatchObject({
      attempts: 2,
      sent_at: at(MINUTE),
      last_error: null,
      params: '{}',
    });

    // The late mail still works: its link is younger than 48 hours.
    expect(mail!.to).toEqual([emailOf('alice')]);
    expect((await confirm(flow, tokenIn(linkOf(mail!, CONFIRM_PATH)))).statusCode).toBe(200);
    expect((await login(flow, 'alice')).statusCode).toBe(200);
  });

  it('lets the running mailer retry by itself on its timer once SMTP is back', async () => {
    const flow = await startMailFlow({ smtpDown: true, pollMs: 20 });
    expect((await register(flow, 'alice')).statusCode).toBe(200);
    // The commit nudged the mailer; its first attempt fails against the closed port.
    await until('the first failed attempt', () => rows(flow)[0]?.attempts === 1);
    expect(rows(flow)[0]!.sent_at).toBeNull();

    const smtp = await flow.startSmtp();
    flow.clock.advance(MINUTE);
    await smtp.waitForMessages(1);
    await flow.mailer.deliverDue();
    expect(smtp.messages).toHaveLength(1);
    expect(rows(flow)[0]).toMatchObject({ attempts: 2, sent_at: at(MINUTE) });
  });
});

describe('mails in Russian', () => {
  const expectRussianConfirmation = async (flow: MailFlow, username: string) => {
    const [mail] = await flow.mailsTo(emailOf(username), 1);
    expect(mail!.subject).toBe('Verstak Sync — подтвердите адрес электронной почты');
    for (const part of [mail!.text, mail!.html]) {
      expect(part).toContain(`Здравствуйте, ${username}!`);
      expect(part).toContain('Ссылка действует 48 часов.');
      expect(part).not.toContain('Hello');
    }
    // Encoded for any relay (RFC 2047 header, transfer-encoded UTF-8 body): 7-bit on the wire.
    expect([...mail!.raw].every((c) => c.charCodeAt(0) < 0x80)).toBe(true);
    expect(mail!.raw).toMatch(/^Subject: =\?UTF-8\?[BQ]\?/im);
    return mail!;
  };

  it('follows the locale of the registration body', async () => {
    const flow = await startMailFlow();
    expect((await register(flow, 'ivan', { locale: 'ru' })).statusCode).toBe(200);
    const mail = await expectRussianConfirmation(flow, 'ivan');
    expect((await confirm(flow, tokenIn(linkOf(mail, CONFIRM_PATH)))).statusCode).toBe(200);

    // The account keeps its language: the reset mail is Russian too.
    await flow.post('/api/v1/auth/forgot', { email: emailOf('ivan') });
    const [, reset] = await flow.mailsTo(emailOf('ivan'), 2);
    expect(reset!.subject).toBe('Verstak Sync — сброс пароля');
    expect(reset!.text).toContain('Ссылка действует 30 минут');
  });

  it('follows Accept-Language when the body names no locale', async () => {
    const flow = await startMailFlow();
    const res = await register(flow, 'olga', {}, { 'accept-language': 'ru-RU' });
    expect(res.statusCode).toBe(200);
    await expectRussianConfirmation(flow, 'olga');
  });
});
