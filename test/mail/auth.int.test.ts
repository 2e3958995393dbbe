import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createMailer } from '../../src/mail/mailer.js';
import { openRuntime } from '../../src/runtime.js';
import { closeMailRigs, openMailRig } from '../helpers/mail-runtime.js';
import { closeSmtpServers, startSmtpServer } from '../helpers/smtp.js';

afterEach(async () => {
  await closeMailRigs();
  await closeSmtpServers();
});

const PASSWORD = 'smtp-Pa55word-7f3a9c';
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Every place outside the key file where the password must not be in clear. */
function assertNoPassword(dir: string, logs: readonly string[], password = PASSWORD) {
  for (const form of [password, b64(password), b64(`\0mailer\0${password}`)]) {
    expect(logs.join('')).not.toContain(form);
    const db = new Database(join(dir, 'server.db'), { readonly: true });
    try {
      for (const table of ['events', 'settings', 'mail_outbox']) {
        const rows = JSON.stringify(db.prepare(`SELECT * FROM ${table}`).all());
        expect(rows).not.toContain(form);
      }
    } finally {
      db.close();
    }
  }
}

describe('SMTP authentication', () => {
  it('logs in with the user and the password decrypted from the stored cipher', async () => {
    const smtp = await startSmtpServer({ auth: { user: 'mailer', pass: PASSWORD } });
    const rig = openMailRig();
    rig.configure({ port: smtp.port, user: 'mailer', password: PASSWORD });
    const id = rig.queue({});

    expect(await rig.mailer().deliverDue()).toEqual({ sent: 1, failed: 0 });

    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.user).toBe('mailer');
    expect(smtp.authAttempts).toEqual([{ user: 'mailer', pass: PASSWORD, ok: true }]);
    expect(rig.row(id).sent_at).not.toBeNull();
    const cipher = rig.runtime.settings.current()?.passwordCipher;
    expect(cipher).toMatch(/^v1\./);
    expect(cipher).not.toContain(PASSWORD);
    // The key lives beside the database, readable by the server's user only.
    const key = statSync(join(rig.dir, 'secret.key'));
    expect(key.mode & 0o777).toBe(0o600);
    expect(readFileSync(join(rig.dir, 'secret.key'))).toHaveLength(32);
    assertNoPassword(rig.dir, rig.logs);
  });

  it('records a wrong password as a failure with no secret in the error or the logs', async () => {
    const smtp = await startSmtpServer({ auth: { user: 'mailer', pass: 'the-right-one' } });
    const rig = openMailRig();
    rig.configure({ port: smtp.port, user: 'mailer', password: PASSWORD });
    const id = rig.queue({});

    expect(await rig.mailer().deliverDue()).toEqual({ sent: 0, failed: 1 });

    expect(smtp.messages).toHaveLength(0);
    expect(smtp.authAttempts).toEqual([{ user: 'mailer', pass: PASSWORD, ok: false }]);
    const row = rig.row(id);
    expect(row.sent_at).toBeNull();
    expect(row.last_error).toMatch(/EAUTH|Invalid login|535/);
    const failure = rig.logs.find((l) => l.includes('mail delivery failed'));
    expect(JSON.parse(failure!)).toMatchObject({ level: 40, mailId: id, attempts: 1 });
    assertNoPassword(rig.dir, rig.logs);
  });

  it('does not authenticate when no user is set', async () => {
    const smtp = await startSmtpServer();
    const rig = openMailRig();
    rig.configure({ port: smtp.port, user: 'mailer', password: PASSWORD });
    rig.configure({ port: smtp.port, user: '' });
    expect(rig.runtime.settings.current()?.passwordCipher).toBeUndefined();
    rig.queue({});
    expect(await rig.mailer().deliverDue()).toEqual({ sent: 1, failed: 0 });
    expect(smtp.authAttempts).toEqual([]);
  });

  it('fails clearly, keeping the mail, when the secret key no longer matches the cipher', async () => {
    const smtp = await startSmtpServer({ auth: { user: 'mailer', pass: PASSWORD } });
    const rig = openMailRig();
    rig.configure({ port: smtp.port, user: 'mailer', password: PASSWORD });
    const id = rig.queue({});
    // What a restore without the old secret.key looks like to the next server start.
    writeFileSync(join(rig.dir, 'secret.key'), randomBytes(32));
    const restarted = openRuntime({ dataDir: rig.dir });
    const logs: string[] = [];
    const logger = createLogger({ destination: { write: (line) => logs.push(line) } });
    try {
      expect(await createMailer(restarted, logger).deliverDue()).toEqual({ sent: 0, failed: 1 });
    } finally {
      restarted.close();
    }
    expect(smtp.authAttempts).toEqual([]);
    const row = rig.row(id);
    expect(row.last_error).toMatch(/encrypted with another key/);
    expect(row.sent_at).toBeNull();
    expect(logs.join('')).toContain('encrypted with another key');
  });
});
