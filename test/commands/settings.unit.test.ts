import { describe, it } from 'vitest';
import {
  settingsDecider,
  UNSET_SMTP,
  type ChangeWebSettings,
  type SettingsEvent,
} from '../../src/commands/settings.js';
import { deciderSpec } from './decider-spec.js';

const spec = deciderSpec(settingsDecider);

const CONFIGURED = { defaultLocale: 'en', allowRegistration: true, serverName: '' } as const;
const web = (
  data: Partial<ChangeWebSettings['data']>,
  configured: ChangeWebSettings['configured'] = CONFIGURED,
): ChangeWebSettings => ({
  type: 'ChangeWebSettings',
  data: { ...CONFIGURED, publicUrl: '', ...data },
  configured,
});

const SMTP = {
  host: 'smtp.example.test',
  port: 465,
  security: 'tls',
  user: 'mailer',
  passwordCipher: 'cipher',
  from: 'sync@example.test',
  publicUrl: 'https://old.example.org',
} as const;
const smtpSet: SettingsEvent = { type: 'SmtpSettingsChanged', data: SMTP };
const webSet: SettingsEvent = {
  type: 'WebSettingsChanged',
  data: { defaultLocale: 'ru', allowRegistration: false, serverName: 'Team' },
};

describe('ChangeWebSettings before any change', () => {
  it('appends nothing for the values config.yml gives', () => {
    spec.given([]).when(web({})).then([]);
  });

  it('records values that differ from config.yml', () => {
    spec
      .given([])
      .when(web({ serverName: 'Team' }))
      .then([
        {
          type: 'WebSettingsChanged',
          data: { defaultLocale: 'en', allowRegistration: true, serverName: 'Team' },
        },
      ]);
  });

  it('records config.yml values once an admin had saved others', () => {
    spec
      .given([webSet])
      .when(web({}))
      .then([{ type: 'WebSettingsChanged', data: CONFIGURED }]);
  });

  it('records the public URL in the SMTP settings, empty ones when none were saved', () => {
    spec
      .given([])
      .when(web({ publicUrl: 'https://new.example.org' }))
      .then([
        {
          type: 'SmtpSettingsChanged',
          data: { ...UNSET_SMTP, publicUrl: 'https://new.example.org' },
        },
      ]);
  });
});

describe('ChangeWebSettings after SMTP settings', () => {
  it('keeps every SMTP field, the password cipher included, when the public URL changes', () => {
    spec
      .given([smtpSet, webSet])
      .when(web({ ...webSet.data, publicUrl: '' }))
      .then([{ type: 'SmtpSettingsChanged', data: { ...SMTP, publicUrl: '' } }]);
  });

  it('appends nothing when nothing changed', () => {
    spec
      .given([smtpSet, webSet])
      .when(web({ ...webSet.data, publicUrl: SMTP.publicUrl }))
      .then([]);
  });

  it('appends both events when both parts changed', () => {
    spec
      .given([smtpSet])
      .when(web({ defaultLocale: 'ru', publicUrl: 'https://b.example.org' }))
      .then([
        {
          type: 'WebSettingsChanged',
          data: { defaultLocale: 'ru', allowRegistration: true, serverName: '' },
        },
        { type: 'SmtpSettingsChanged', data: { ...SMTP, publicUrl: 'https://b.example.org' } },
      ]);
  });
});

describe('RequestSmtpTest', () => {
  it('rejects a test before mail is set up, even after web settings', () => {
    spec
      .given([webSet])
      .when({ type: 'RequestSmtpTest', data: { to: 'a@example.test' } })
      .thenThrows({ status: 409, code: 'smtp_not_configured' });
  });
});
