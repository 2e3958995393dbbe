import type { EventOfType } from '../log/index.js';
import { AppError } from '../errors.js';
import type { Decider } from './decider.js';

export type SettingsEvent = EventOfType<
  'SmtpSettingsChanged' | 'SmtpTestRequested' | 'WebSettingsChanged'
>;

type Smtp = EventOfType<'SmtpSettingsChanged'>['data'];
type Web = EventOfType<'WebSettingsChanged'>['data'];

/**
 * What the server's settings stream knows: the SMTP settings in force, if any, and the web
 * settings an admin saved, if any (before that, config.yml's).
 */
export type SettingsState =
  { status: 'unset'; web?: Web } | { status: 'set'; smtp: Smtp; web?: Web };

export type ChangeSmtpSettings = { type: 'ChangeSmtpSettings'; data: Smtp };
export type RequestSmtpTest = { type: 'RequestSmtpTest'; data: { to: string } };
/**
 * The console's web settings form. `configured` is what config.yml asks for: saving those
 * same values before any change appends nothing. The public URL lives in the SMTP settings.
 */
export type ChangeWebSettings = {
  type: 'ChangeWebSettings';
  data: Web & { publicUrl: string };
  configured: Web;
};
export type SettingsCommand = ChangeSmtpSettings | RequestSmtpTest | ChangeWebSettings;

/** Server-wide settings and admin actions that belong to no user or device. */
export const SERVER_STREAM = 'server';

/** The SMTP settings before any were saved: no host, so no mail. */
export const UNSET_SMTP: Smtp = {
  host: '',
  port: 587,
  security: 'starttls',
  user: '',
  from: '',
  publicUrl: '',
};

const FIELDS = ['host', 'port', 'security', 'user', 'passwordCipher', 'from', 'publicUrl'] as const;
const WEB_FIELDS = ['defaultLocale', 'allowRegistration', 'serverName'] as const;

const sameSmtp = (a: Smtp, b: Smtp) => FIELDS.every((f) => a[f] === b[f]);
const sameWeb = (a: Web, b: Web) => WEB_FIELDS.every((f) => a[f] === b[f]);

function changeSmtp(command: ChangeSmtpSettings, state: SettingsState): SettingsEvent[] {
  if (state.status === 'set' && sameSmtp(state.smtp, command.data)) return [];
  return [{ type: 'SmtpSettingsChanged', data: command.data }];
}

function requestTest(command: RequestSmtpTest, state: SettingsState): SettingsEvent[] {
  if (state.status !== 'set' || state.smtp.host === '' || state.smtp.from === '') {
    throw new AppError(409, 'smtp_not_configured', 'SMTP is not configured');
  }
  return [{ type: 'SmtpTestRequested', data: command.data }];
}

function changeWeb(command: ChangeWebSettings, state: SettingsState): SettingsEvent[] {
  const { publicUrl, ...web } = command.data;
  const events: SettingsEvent[] = [];
  if (!sameWeb(state.web ?? command.configured, web)) {
    events.push({ type: 'WebSettingsChanged', data: web });
  }
  const smtp = state.status === 'set' ? state.smtp : UNSET_SMTP;
  if (smtp.publicUrl !== publicUrl) {
    events.push({ type: 'SmtpSettingsChanged', data: { ...smtp, publicUrl } });
  }
  return events;
}

export const settingsDecider: Decider<SettingsState, SettingsCommand, SettingsEvent> = {
  initialState: () => ({ status: 'unset' }),
  evolve(state, event) {
    switch (event.type) {
      case 'SmtpSettingsChanged':
        return { ...state, status: 'set', smtp: event.data };
      case 'WebSettingsChanged':
        return { ...state, web: event.data };
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'ChangeSmtpSettings':
        return changeSmtp(command, state);
      case 'RequestSmtpTest':
        return requestTest(command, state);
      case 'ChangeWebSettings':
        return changeWeb(command, state);
      default: {
        const unreachable: never = command;
        return unreachable;
      }
    }
  },
};
