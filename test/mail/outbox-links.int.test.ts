import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { closeMailRigs, openMailRig } from '../helpers/mail-runtime.js';
import { closeSmtpServers, startSmtpServer } from '../helpers/smtp.js';

// Issue 12: the outbox keeps a reset or confirmation link until it is mailed, for as long
// as SMTP is down. The link is stored encrypted with the secret box, and an unsent mail
// whose link has expired is dropped.

afterEach(async () => {
  await closeMailRigs();
  await closeSmtpServers();
});

const linkIn = (text: string) => /https?:\/\/\S+?(?:token|#t)=[\w-]+/.exec(text)?.[0];

describe('mails with one-time links in the outbox', () => {
  it('are stored sealed, and still arrive with a working link once SMTP is there', async () => {
    const rig = openMailRig();
    const { runtime } = rig;
    await runtime.users.register(
      {
        username: 'alice',
        email: 'alice@example.test',
        password: 'correct horse battery',
        confirmed: true,
      },
      'operator',
      { actor: 'test' },
    );
    runtime.passwordResets.requestPasswordReset('alice@example.test', { actor: 'test' });
    const row = runtime.db
      .prepare("SELECT params, expires_at FROM mail_outbox WHERE template = 'reset-password'")
      .get() as { params: string; expires_at: string };
    expect(row.params).toMatch(/^sealed:/);
    expect(row.params).not.toMatch(/token|alice|https?:/);
    expect(Date.parse(row.expires_at)).toBeGreaterThan(Date.now());
    runtime.db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = readFileSync(join(rig.dir, 'server.db')).toString('latin1');
    expect(bytes).not.toMatch(/\/reset(?:\?|#)\S*token/);

    const smtp = await startSmtpServer();
    rig.configure({ port: smtp.port });
    const round = await rig.mailer().deliverDue();
    expect(round).toEqual({ sent: 1, failed: 0 });
    const [mail] = await smtp.waitForMessages(1);
    const link = linkIn(mail!.text);
    expect(link).toBeDefined();
    const token = new URL(link!.replace('#t=', '?token=')).searchParams.get('token')!;
    expect(runtime.passwordResets.resetTokenUsable(token)).toBe(true);
  });

  it('are dropped unsent once their link has expired, also while SMTP is down', async () => {
    const clock = createManualClock(new Date());
    const rig = openMailRig({ clock });
    const { runtime } = rig;
    await runtime.users.register(
      {
        username: 'bob',
        email: 'bob@example.test',
        password: 'correct horse battery',
        confirmed: true,
      },
      'operator',
      { actor: 'test' },
    );
    runtime.passwordResets.requestPasswordReset('bob@example.test', { actor: 'test' });
    rig.queue({ template: 'smtp-test', params: {} });
    const count = () =>
      runtime.db.prepare('SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL').pluck().get();
    const mailer = rig.mailer();
    await mailer.deliverDue();
    expect(count()).toBe(2);
    clock.advance(31 * 60_000);
    await mailer.deliverDue();
    // The reset mail's link died with its token; the mail without a link waits on.
    expect(count()).toBe(1);
    expect(rig.logs.join('\n')).toContain('unsent mails dropped: their links expired');
  });
});
