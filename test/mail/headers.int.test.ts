import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { enqueueMail } from '../../src/mail/outbox.js';
import { closeMailRigs, FROM, openMailRig, PUBLIC_URL } from '../helpers/mail-runtime.js';
import { closeSmtpServers, startSmtpServer } from '../helpers/smtp.js';

afterEach(async () => {
  await closeMailRigs();
  await closeSmtpServers();
});

const outboxSize = (rig: ReturnType<typeof openMailRig>) =>
  (rig.runtime.db.prepare('SELECT count(*) AS n FROM mail_outbox').get() as { n: number }).n;

describe('header injection', () => {
  it('refuses a recipient with CR/LF at enqueue', () => {
    const rig = openMailRig();
    expect(() =>
      enqueueMail(
        rig.runtime.db,
        {
          to: 'a@example.test\r\nBcc: evil@example.test',
          template: 'smtp-test',
          locale: 'en',
          params: {},
        },
        new Date(),
      ),
    ).toThrow(/line break/);
    expect(outboxSize(rig)).toBe(0);
  });

  it('marks a row with an injected header failed without sending it, and still sends the others', async () => {
    const smtp = await startSmtpServer();
    const rig = openMailRig();
    rig.configure({ port: smtp.port });
    // Rows an older server (or a bug) could have written: the sender checks again.
    const insert = rig.runtime.db.prepare(
      `INSERT INTO mail_outbox (created_at, recipient, template, locale, params, next_attempt_at)
       VALUES (?, ?, 'smtp-test', 'en', '{}', ?)`,
    );
    const now = rig.runtime.clock.now().toISOString();
    const crlf = Number(
      insert.run(now, 'a@example.test\r\nBcc: evil@example.test', now).lastInsertRowid,
    );
    const comma = Number(insert.run(now, 'a@example.test, evil@example.test', now).lastInsertRowid);
    const good = rig.queue({ to: 'bob@example.test' });

    expect(await rig.mailer().deliverDue()).toEqual({ sent: 1, failed: 2 });

    const [mail] = await smtp.waitForMessages(1);
    expect(mail!.to).toEqual(['bob@example.test']);
    expect(smtp.messages).toHaveLength(1);
    expect(rig.row(crlf)).toMatchObject({ sent_at: null, attempts: 1 });
    expect(rig.row(crlf).last_error).toBe('the to header contains a line break');
    expect(rig.row(comma).last_error).toBe('the recipient is not a bare address');
    expect(rig.row(good).sent_at).not.toBeNull();
  });

  it('refuses SMTP settings with a line break or a display name in a header value or URL', () => {
    const rig = openMailRig();
    const base = {
      host: 'smtp.example.test',
      port: 587,
      security: 'starttls' as const,
      from: FROM,
      publicUrl: PUBLIC_URL,
    };
    const bad = [
      { from: 'sync@example.test\r\nBcc: evil@example.test' },
      { from: 'Verstak <sync@example.test>' },
      { host: 'smtp.example.test\r\nRCPT TO:<evil@example.test>' },
      { user: 'mailer\nX: y' },
      { publicUrl: 'https://sync.example.test/\r\nBcc: x' },
    ];
    for (const change of bad) {
      const attempt = () =>
        rig.runtime.settings.changeSmtp({ ...base, ...change }, { actor: 'test' });
      expect(attempt).toThrow(AppError);
    }
    expect(rig.runtime.store.head()).toBe(0);
    expect(rig.runtime.settings.current()).toBeUndefined();
  });
});
