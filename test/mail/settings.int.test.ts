import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { closeMailRigs, FROM, openMailRig, PUBLIC_URL } from '../helpers/mail-runtime.js';

afterEach(closeMailRigs);

const META = { actor: 'test' };
const BASE = {
  host: 'smtp.example.test',
  port: 587,
  security: 'starttls' as const,
  from: FROM,
  publicUrl: PUBLIC_URL,
};

const eventTypes = (rig: ReturnType<typeof openMailRig>) =>
  rig.runtime.store.readRange(0, 1000).map((e) => e.type);

describe('SMTP settings as events', () => {
  it('appends SmtpSettingsChanged to the server stream only when something changes', () => {
    const rig = openMailRig();
    expect(rig.runtime.settings.changeSmtp(BASE, META)).toBe(true);
    expect(rig.runtime.settings.changeSmtp(BASE, META)).toBe(false);
    expect(rig.runtime.settings.changeSmtp({ ...BASE, port: 2525 }, META)).toBe(true);
    const events = rig.runtime.store.readStream('server');
    expect(events.map((e) => e.type)).toEqual(['SmtpSettingsChanged', 'SmtpSettingsChanged']);
    expect(events[1]!.data).toEqual({ ...BASE, port: 2525, user: '' });
    expect(rig.runtime.settings.current()).toEqual({ ...BASE, port: 2525, user: '' });
  });

  it('keeps the stored password when none is given, and re-encrypts only a new one', () => {
    const rig = openMailRig();
    const { settings } = rig.runtime;
    settings.changeSmtp({ ...BASE, user: 'mailer', password: 'first secret' }, META);
    const first = settings.current()!.passwordCipher!;
    expect(settings.decryptPassword(first)).toBe('first secret');

    expect(settings.changeSmtp({ ...BASE, user: 'mailer' }, META)).toBe(false);
    expect(settings.changeSmtp({ ...BASE, user: 'mailer', password: 'first secret' }, META)).toBe(
      false,
    );
    expect(settings.current()!.passwordCipher).toBe(first);

    expect(settings.changeSmtp({ ...BASE, user: 'mailer', password: 'second secret' }, META)).toBe(
      true,
    );
    const second = settings.current()!.passwordCipher!;
    expect(second).not.toBe(first);
    expect(settings.decryptPassword(second)).toBe('second secret');
  });

  it('applies start-up overrides field by field, and nothing when none are given', () => {
    const rig = openMailRig();
    const { settings } = rig.runtime;
    expect(settings.applyOverrides({}, META)).toBe(false);
    expect(rig.runtime.store.head()).toBe(0);

    expect(settings.applyOverrides({ publicUrl: 'https://sync.example.test/' }, META)).toBe(true);
    expect(settings.current()).toEqual({
      host: '',
      port: 587,
      security: 'starttls',
      user: '',
      from: '',
      publicUrl: 'https://sync.example.test',
    });

    settings.changeSmtp({ ...BASE, user: 'mailer', password: 'pw one' }, META);
    const cipher = settings.current()!.passwordCipher;
    expect(settings.applyOverrides({ port: 465, security: 'tls' }, META)).toBe(true);
    expect(settings.current()).toEqual({
      ...BASE,
      port: 465,
      security: 'tls',
      user: 'mailer',
      passwordCipher: cipher,
    });
    // The same flags at the next start change nothing.
    expect(settings.applyOverrides({ port: 465, security: 'tls', password: 'pw one' }, META)).toBe(
      false,
    );
    expect(eventTypes(rig)).toHaveLength(3);
  });

  it('validates port, public URL and sender', () => {
    const rig = openMailRig();
    const { settings } = rig.runtime;
    const refused = [
      { port: 0 },
      { port: 65536 },
      { port: 25.5 },
      { publicUrl: 'ftp://sync.example.test' },
      { publicUrl: 'sync.example.test' },
      { publicUrl: 'https://user:pw@sync.example.test' },
      { publicUrl: 'https://sync.example.test/?utm_source=mail' },
      { from: '' },
      { from: 'not an address' },
      { security: 'ssl' as 'tls' },
    ];
    for (const change of refused) {
      expect(
        () => settings.changeSmtp({ ...BASE, ...change }, META),
        JSON.stringify(change),
      ).toThrow(AppError);
    }
    expect(rig.runtime.store.head()).toBe(0);
    expect(
      settings.changeSmtp({ ...BASE, port: 1, publicUrl: 'http://10.0.0.5:8080/sync/' }, META),
    ).toBe(true);
    expect(settings.current()?.publicUrl).toBe('http://10.0.0.5:8080/sync');
    expect(settings.changeSmtp({ ...BASE, port: 65535, publicUrl: '' }, META)).toBe(true);
  });

  it('queues a test mail with its event in one commit, and refuses without SMTP', () => {
    const rig = openMailRig();
    const { settings } = rig.runtime;
    let refusal: unknown;
    try {
      settings.sendTestMail('ops@example.test', META);
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal).toMatchObject({ status: 409, code: 'smtp_not_configured' });
    expect(rig.runtime.db.prepare('SELECT count(*) AS n FROM mail_outbox').get()).toEqual({ n: 0 });

    settings.changeSmtp(BASE, META);
    const queued = settings.sendTestMail(undefined, META, 'ru');
    expect(queued.to).toBe(FROM);
    expect(rig.row(queued.mailId)).toMatchObject({
      recipient: FROM,
      template: 'smtp-test',
      locale: 'ru',
    });
    const test = rig.runtime.store.readStream('server').at(-1)!;
    expect(test).toMatchObject({ type: 'SmtpTestRequested', data: { to: FROM }, meta: META });
    expect(() => settings.sendTestMail('Ops <ops@example.test>', META)).toThrow(AppError);
  });
});
