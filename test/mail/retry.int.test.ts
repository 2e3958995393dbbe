import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { retryDelayMs } from '../../src/mail/sender.js';
import { closeMailRigs, openMailRig } from '../helpers/mail-runtime.js';
import { closeSmtpServers, startSmtpServer } from '../helpers/smtp.js';

afterEach(async () => {
  await closeMailRigs();
  await closeSmtpServers();
});

const START = '2026-03-01T10:00:00.000Z';
const at = (ms: number) => new Date(Date.parse(START) + ms).toISOString();

/** A port with nothing listening on it: a server that was there and went away. */
async function deadPort(): Promise<number> {
  const smtp = await startSmtpServer();
  await smtp.close();
  return smtp.port;
}

describe('a failing SMTP server', () => {
  it('keeps the mail queued with its error, then delivers it exactly once after the backoff', async () => {
    const clock = createManualClock(START);
    const rig = openMailRig({ clock });
    const port = await deadPort();
    rig.configure({ port });
    const id = rig.queue({});
    const sender = rig.mailer();

    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 1 });
    let row = rig.row(id);
    expect(row.sent_at).toBeNull();
    expect(row.attempts).toBe(1);
    expect(row.last_error).toMatch(/ECONNREFUSED|ECONNECTION/);
    expect(row.next_attempt_at).toBe(at(30_000));

    const smtp = await startSmtpServer({ port });
    // Not due yet: the server being back changes nothing before the backoff ends.
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });
    clock.advance(29_999);
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });
    expect(smtp.messages).toHaveLength(0);

    clock.advance(1);
    expect(await sender.deliverDue()).toEqual({ sent: 1, failed: 0 });
    clock.advance(3_600_000);
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });
    await smtp.waitForMessages(1);
    expect(smtp.messages).toHaveLength(1);
    row = rig.row(id);
    expect(row.attempts).toBe(2);
    expect(row.sent_at).toBe(at(30_000));
    expect(row.last_error).toBeNull();
  });

  it('backs off 30 s, 1 min, 2 min, ... and keeps retrying at most hourly, never dropping the mail', async () => {
    expect([0, 1, 2, 3, 6, 7, 50].map(retryDelayMs)).toEqual([
      30_000, 60_000, 120_000, 240_000, 1_920_000, 3_600_000, 3_600_000,
    ]);
    const clock = createManualClock(START);
    const rig = openMailRig({ clock });
    rig.configure({ port: await deadPort() });
    const id = rig.queue({});
    const sender = rig.mailer();
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 1 });
      const row = rig.row(id);
      delays.push(Date.parse(row.next_attempt_at) - clock.now().getTime());
      clock.set(row.next_attempt_at);
    }
    expect(delays).toEqual([
      30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000,
    ]);
    expect(rig.row(id).attempts).toBe(9);
    expect(rig.row(id).sent_at).toBeNull();
  });

  it('the timer retries by itself once the backoff has passed', async () => {
    const clock = createManualClock(START);
    const rig = openMailRig({ clock });
    const port = await deadPort();
    rig.configure({ port });
    const id = rig.queue({});
    const sender = rig.mailer({ pollMs: 20 });
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 1 });
    const smtp = await startSmtpServer({ port });
    clock.advance(30_000);
    sender.start();
    await smtp.waitForMessages(1);
    await sender.stop();
    expect(rig.row(id).sent_at).not.toBeNull();
    expect(smtp.messages).toHaveLength(1);
  });
});

describe('without SMTP settings', () => {
  it('leaves mails waiting untouched and warns once', async () => {
    const rig = openMailRig();
    const id = rig.queue({});
    rig.queue({ template: 'smtp-test', params: {} });
    const sender = rig.mailer();

    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });
    expect(await sender.deliverDue()).toEqual({ sent: 0, failed: 0 });

    const warnings = rig.logs.filter((l) => l.includes('SMTP not configured'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({
      level: 40,
      msg: 'SMTP not configured; 2 mails waiting',
      waiting: 2,
    });
    expect(rig.row(id)).toMatchObject({ attempts: 0, last_error: null, sent_at: null });

    const smtp = await startSmtpServer();
    rig.configure({ port: smtp.port });
    expect(await sender.deliverDue()).toEqual({ sent: 2, failed: 0 });
    expect(smtp.messages).toHaveLength(2);
  });
});
