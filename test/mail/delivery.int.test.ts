import { afterEach, describe, expect, it } from 'vitest';
import { closeMailRigs, FROM, openMailRig, PUBLIC_URL } from '../helpers/mail-runtime.js';
import { closeSmtpServers, startSmtpServer } from '../helpers/smtp.js';

afterEach(async () => {
  await closeMailRigs();
  await closeSmtpServers();
});

describe('delivering the outbox over plain SMTP', () => {
  it('sends an English mail with the right envelope, headers, text and HTML', async () => {
    const smtp = await startSmtpServer();
    const rig = openMailRig();
    rig.configure({ port: smtp.port });
    const link = `${PUBLIC_URL}/confirm#t=0f1e2d3c`;
    const id = rig.queue({ to: 'alice@example.test', params: { link, username: 'alice' } });

    const round = await rig.mailer().deliverDue();

    expect(round).toEqual({ sent: 1, failed: 0 });
    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.from).toBe(FROM);
    expect(mail!.to).toEqual(['alice@example.test']);
    expect(mail!.headers.get('from')).toEqual([FROM]);
    expect(mail!.headers.get('to')).toEqual(['alice@example.test']);
    expect(mail!.subject).toBe('Verstak Sync — confirm your email');
    expect(mail!.headers.get('content-type')?.[0]).toMatch(/^multipart\/alternative/);
    expect(mail!.text).toContain(`Hello, alice!`);
    expect(mail!.text).toContain(link);
    expect(mail!.text).toContain('48 hours');
    expect(mail!.html).toContain(`<a href="${link}">${link}</a>`);
    expect(mail!.tls).toBe(false);
    // Nothing fetched or attached: exactly the two alternative parts.
    expect(mail!.raw).not.toMatch(/Content-Disposition: attachment/i);

    const row = rig.row(id);
    expect(row.sent_at).not.toBeNull();
    expect(row.attempts).toBe(1);
    expect(row.last_error).toBeNull();
    // The one-time link leaves the database once the mail is out.
    expect(row.params).toBe('{}');
    expect(rig.logs.join('')).not.toContain('0f1e2d3c');
  });

  it('sends a Russian mail whose subject and body decode back exactly', async () => {
    const smtp = await startSmtpServer();
    const rig = openMailRig();
    rig.configure({ port: smtp.port });
    const link = `${PUBLIC_URL}/reset#t=99aa`;
    rig.queue({
      to: 'boris@example.test',
      template: 'reset-password',
      locale: 'ru',
      params: { link, username: 'Борис' },
    });

    await rig.mailer().deliverDue();

    const [mail] = await smtp.waitForMessages(1);
    // On the wire the subject is RFC 2047 encoded ASCII; decoded it is the Russian text.
    const rawSubject = /^Subject: (.*(?:\r\n[ \t].*)*)/m.exec(mail!.raw)?.[1] ?? '';
    expect(rawSubject).toMatch(/^=\?UTF-8\?[BQ]\?/i);
    expect(mail!.subject).toBe('Verstak Sync — сброс пароля');
    expect(mail!.text).toContain('Здравствуйте, Борис!');
    expect(mail!.text).toContain('30 минут');
    expect(mail!.text).toContain(link);
    expect(mail!.html).toContain('<html lang="ru">');
    expect(mail!.html).toContain('Здравствуйте, Борис!');
  });

  it('sends nothing when nothing is due, and each mail only once', async () => {
    const smtp = await startSmtpServer();
    const rig = openMailRig();
    rig.configure({ port: smtp.port });
    const sender = rig.mailer();
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });
    rig.queue({});
    rig.queue({ template: 'smtp-test', params: {} });
    const [first, second] = await Promise.all([sender.deliverDue(), sender.deliverDue()]);
    expect(first.sent + second.sent).toBe(2);
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });
    expect(smtp.messages).toHaveLength(2);
  });

  it('marks a mail that cannot be rendered failed without holding up the others', async () => {
    const smtp = await startSmtpServer();
    const rig = openMailRig();
    rig.configure({ port: smtp.port });
    const broken = rig.queue({ params: { username: 'alice' } });
    const fine = rig.queue({ to: 'carol@example.test' });

    expect(await rig.mailer().deliverDue()).toEqual({ sent: 1, failed: 1 });

    expect(rig.row(broken)).toMatchObject({ sent_at: null, attempts: 1 });
    expect(rig.row(broken).last_error).toBe('mail template confirm-email needs an http(s) link');
    expect(rig.row(fine).sent_at).not.toBeNull();
    expect(smtp.messages.map((m) => m.to)).toEqual([['carol@example.test']]);
  });
});
