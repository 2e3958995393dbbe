import { afterEach, describe, expect, it } from 'vitest';
import { closeMailRigs, openMailRig } from '../helpers/mail-runtime.js';
import { closeSmtpServers, startSmtpServer, testCertificate } from '../helpers/smtp.js';

afterEach(async () => {
  await closeMailRigs();
  await closeSmtpServers();
});

const cert = testCertificate();

// The sender trusts the test certificate as a CA: verification stays on, as in production.
describe.skipIf(!cert)('SMTP transport security (self-signed test CA from openssl)', () => {
  it('starttls upgrades before sending when the server offers STARTTLS', async () => {
    const smtp = await startSmtpServer({ starttls: true });
    const rig = openMailRig();
    rig.configure({ port: smtp.port, security: 'starttls' });
    const id = rig.queue({});

    expect(await rig.mailer({ tls: { ca: cert!.cert } }).deliverDue()).toEqual({
      sent: 1,
      failed: 0,
    });

    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.tls).toBe(true);
    expect(rig.row(id).sent_at).not.toBeNull();
  });

  it('starttls refuses to send in clear when the server does not offer STARTTLS', async () => {
    const smtp = await startSmtpServer({ starttls: false });
    const rig = openMailRig();
    rig.configure({ port: smtp.port, security: 'starttls' });
    const id = rig.queue({});

    expect(await rig.mailer({ tls: { ca: cert!.cert } }).deliverDue()).toEqual({
      sent: 0,
      failed: 1,
    });

    expect(smtp.messages).toHaveLength(0);
    const row = rig.row(id);
    expect(row.sent_at).toBeNull();
    expect(row.attempts).toBe(1);
    expect(row.last_error).toMatch(/STARTTLS/i);
    expect(row.params).not.toBe('{}');
  });

  it('starttls does not accept an unknown certificate by default', async () => {
    const smtp = await startSmtpServer({ starttls: true });
    const rig = openMailRig();
    rig.configure({ port: smtp.port, security: 'starttls' });
    const id = rig.queue({});

    expect(await rig.mailer().deliverDue()).toEqual({ sent: 0, failed: 1 });

    expect(smtp.messages).toHaveLength(0);
    expect(rig.row(id).last_error).toMatch(/certificate/i);
  });

  it('tls speaks TLS from the first byte', async () => {
    const smtp = await startSmtpServer({ secure: true });
    const rig = openMailRig();
    rig.configure({ port: smtp.port, security: 'tls' });
    rig.queue({});

    expect(await rig.mailer({ tls: { ca: cert!.cert } }).deliverDue()).toEqual({
      sent: 1,
      failed: 0,
    });
    expect((await smtp.waitForMessages(1))[0]!.tls).toBe(true);
  });

  it('none never upgrades, even when the server offers STARTTLS', async () => {
    const smtp = await startSmtpServer({ starttls: true });
    const rig = openMailRig();
    rig.configure({ port: smtp.port, security: 'none' });
    rig.queue({});

    expect(await rig.mailer().deliverDue()).toEqual({ sent: 1, failed: 0 });
    expect((await smtp.waitForMessages(1))[0]!.tls).toBe(false);
  });
});
