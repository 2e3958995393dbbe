import type { EventOfType } from '../log/index.js';
import { AppError } from '../errors.js';
import type { Decider } from './decider.js';

export type SettingsEvent = EventOfType<'SmtpSettingsChanged' | 'SmtpTestRequested'>;

type Smtp = EventOfType<'SmtpSettingsChanged'>['data'];

/** What the server's settings stream knows: the SMTP settings in force, if any. */
export type SettingsState = { status: 'unset' } | { status: 'set'; smtp: Smtp };

export type ChangeSmtpSettings = { type: 'ChangeSmtpSettings'; data: Smtp };
export type RequestSmtpTest = { type: 'RequestSmtpTest'; data: { to: string } };
export type SettingsCommand = ChangeSmtpSettings | RequestSmtpTest;

/** Server-wide settings and admin actions that belong to no user or device. */
export const SERVER_STREAM = 'server';

const FIELDS = ['host', 'port', 'security', 'user', 'passwordCipher', 'from', 'publicUrl'] as const;

const sameSmtp = (a: Smtp, b: Smtp) => FIELDS.every((f) => a[f] === b[f]);

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

export const settingsDecider: Decider<SettingsState, SettingsCommand, SettingsEvent> = {
  initialState: () => ({ status: 'unset' }),
  evolve(state, event) {
    switch (event.type) {
      case 'SmtpSettingsChanged':
        return { status: 'set', smtp: event.data };
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
      default: {
        const unreachable: never = command;
        return unreachable;
      }
    }
  },
};
