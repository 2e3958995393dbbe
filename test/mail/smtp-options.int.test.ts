import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { smtpOverridesOf } from '../../src/cli/smtp-options.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('start-up mail settings from flags, environment and config.yml', () => {
  it('names nothing when nothing is given', () => {
    expect(smtpOverridesOf({}, {}, '')).toEqual({});
  });

  it('takes flags over environment over config.yml', () => {
    const env = {
      VERSTAK_SMTP_HOST: 'env.example.test',
      VERSTAK_SMTP_PORT: '2525',
      VERSTAK_SMTP_SECURITY: 'tls',
      VERSTAK_SMTP_USER: 'env-user',
      VERSTAK_SMTP_FROM: 'env@example.test',
      VERSTAK_PUBLIC_URL: 'https://env.example.test',
    };
    expect(smtpOverridesOf({}, env, 'https://config.example.test')).toEqual({
      host: 'env.example.test',
      port: 2525,
      security: 'tls',
      user: 'env-user',
      from: 'env@example.test',
      publicUrl: 'https://env.example.test',
    });
    expect(
      smtpOverridesOf(
        { smtpHost: 'flag.example.test', smtpPort: '465', publicUrl: 'https://flag.example.test' },
        env,
        '',
      ),
    ).toMatchObject({
      host: 'flag.example.test',
      port: 465,
      publicUrl: 'https://flag.example.test',
    });
    expect(smtpOverridesOf({}, {}, 'https://config.example.test')).toEqual({
      publicUrl: 'https://config.example.test',
    });
  });

  it('reads the password from a file only: flag, env, then the systemd credential', () => {
    dir = mkdtempSync(join(tmpdir(), 'verstak-smtp-opts-'));
    writeFileSync(join(dir, 'flag'), 'from-flag\n');
    writeFileSync(join(dir, 'env'), 'from-env\n');
    writeFileSync(join(dir, 'smtp-password'), 'from-credential\n');
    const env = { VERSTAK_SMTP_PASS_FILE: join(dir, 'env'), CREDENTIALS_DIRECTORY: dir };
    expect(smtpOverridesOf({ smtpPassFile: join(dir, 'flag') }, env, '').password).toBe(
      'from-flag',
    );
    expect(smtpOverridesOf({}, env, '').password).toBe('from-env');
    expect(smtpOverridesOf({}, { CREDENTIALS_DIRECTORY: dir }, '').password).toBe(
      'from-credential',
    );
    expect(smtpOverridesOf({}, { CREDENTIALS_DIRECTORY: join(dir, 'none') }, '')).toEqual({});
  });

  it('refuses a port that is not 1-65535', () => {
    for (const port of ['0', '65536', '25a', '-1', ''])
      expect(() => smtpOverridesOf({ smtpPort: port }, {}, '')).toThrow(/--smtp-port/);
  });
});
