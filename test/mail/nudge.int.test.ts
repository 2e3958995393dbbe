import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CATALOGUE, openDatabase } from '../../src/log/index.js';
import { enqueueMail } from '../../src/mail/outbox.js';
import { replayProjections } from '../../src/projections/rebuild.js';
import { closeMailRigs, openMailRig } from '../helpers/mail-runtime.js';
import { closeSmtpServers, startSmtpServer } from '../helpers/smtp.js';

afterEach(async () => {
  await closeMailRigs();
  await closeSmtpServers();
});

const HOUR = 60 * 60_000;

describe('the committed-events nudge', () => {
  it('delivers a mail queued by a command without waiting for the timer', async () => {
    const smtp = await startSmtpServer();
    const rig = openMailRig();
    rig.configure({ port: smtp.port });
    // The timer would not fire during this test: only the bus can start the round.
    const sender = rig.mailer({ pollMs: HOUR });
    sender.start();
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });

    const { mailId } = rig.runtime.settings.sendTestMail('ops@example.test', { actor: 'test' });

    const [mail] = await smtp.waitForMessages(1, 5_000);
    expect(mail!.to).toEqual(['ops@example.test']);
    expect(mail!.subject).toBe('Verstak Sync — test message');
    // The server has the message before the sender hears its 250: let the round finish.
    await sender.stop();
    expect(rig.row(mailId).sent_at).not.toBeNull();
  });

  it('is not given by commits that queue no mail (every push), only by those that do', async () => {
    const smtp = await startSmtpServer();
    const rig = openMailRig();
    rig.configure({ port: smtp.port });
    const sender = rig.mailer({ pollMs: HOUR });
    sender.start();
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });
    // A mail queued through another connection (another process): only a round finds it.
    const other = openDatabase(join(rig.dir, 'server.db'), { mustExist: true });
    enqueueMail(
      other,
      {
        to: 'cli@example.test',
        template: 'confirm-email',
        locale: 'en',
        params: { link: 'https://sync.example.test/confirm#t=abc', username: 'cli' },
      },
      new Date(),
    );
    other.close();

    rig.configure({ port: smtp.port, from: 'other@example.test' });
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.messages).toHaveLength(0);

    rig.runtime.settings.sendTestMail('ops@example.test', { actor: 'test' });
    const received = await smtp.waitForMessages(2, 5_000);
    expect(received.flatMap((m) => m.to).sort()).toEqual(['cli@example.test', 'ops@example.test']);
    await sender.stop();
  });

  it('stops listening to the bus once stopped', async () => {
    const smtp = await startSmtpServer();
    const rig = openMailRig();
    rig.configure({ port: smtp.port });
    const sender = rig.mailer({ pollMs: HOUR });
    const listeners = () => rig.runtime.bus.all.get('committed')?.length ?? 0;
    sender.start();
    expect(listeners()).toBe(1);
    await sender.stop();
    expect(listeners()).toBe(0);

    const { mailId } = rig.runtime.settings.sendTestMail('ops@example.test', { actor: 'test' });
    // A stopped sender sends nothing, even when asked: the mail waits for the next start.
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });
    expect(rig.row(mailId).sent_at).toBeNull();
    sender.start();
    await smtp.waitForMessages(1);
    await sender.stop();
    expect(rig.row(mailId).sent_at).not.toBeNull();
  });
});

describe('replay', () => {
  it('rebuilds the settings from the log and never creates or resends outbox rows', async () => {
    const smtp = await startSmtpServer();
    const rig = openMailRig();
    rig.configure({ port: smtp.port, user: 'mailer', password: 'pw' });
    const settingsBefore = rig.runtime.settings.current();
    rig.runtime.settings.sendTestMail('ops@example.test', { actor: 'test' });
    rig.runtime.settings.sendTestMail('ops@example.test', { actor: 'test' });
    const sender = rig.mailer();
    rig.configure({ port: smtp.port, user: '' });
    expect(await sender.deliverDue()).toEqual({ sent: 2, failed: 0 });
    const outbox = () => rig.runtime.db.prepare('SELECT * FROM mail_outbox ORDER BY id').all();
    const before = outbox();
    const settingsAfterChange = rig.runtime.settings.current();

    const report = replayProjections(rig.runtime, {
      scratchDir: join(rig.dir, 'tmp'),
      check: false,
      catalogue: CATALOGUE,
    });

    expect(report.events).toBe(4);
    expect(outbox()).toEqual(before);
    expect(rig.runtime.settings.current()).toEqual(settingsAfterChange);
    expect(settingsAfterChange).not.toEqual(settingsBefore);
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });
    expect(smtp.messages).toHaveLength(2);
  });
});
