import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  RESET_MAILS_PER_HOUR,
  loginAuditDecider,
  type PresentedToken,
} from '../../src/commands/account.js';
import { userDecider, type UserCommand, type UserEvent } from '../../src/commands/user.js';

/** given(events).when(command).then(events) | .thenThrows(status, message). */
function given(events: UserEvent[]) {
  const state = events.reduce((s, e) => userDecider.evolve(s, e), userDecider.initialState());
  return {
    when(command: UserCommand) {
      const run = () => userDecider.decide(command, state);
      return {
        then: (expected: UserEvent[]) => expect(run()).toEqual(expected),
        thenThrows(status: number, message: string) {
          let error: unknown;
          try {
            run();
          } catch (err) {
            error = err;
          }
          expect(error).toBeInstanceOf(AppError);
          expect(error).toMatchObject({ status, message });
        },
      };
    },
  };
}

const USER = 'u1';
const NOW = '2026-03-01T12:00:00.000Z';
const LATER = '2026-03-01T12:30:00.000Z';
const EARLIER = '2026-03-01T11:00:00.000Z';

const registered = (confirmed: boolean): UserEvent => ({
  type: 'UserRegistered',
  data: {
    userId: USER,
    username: 'alice',
    email: 'alice@example.test',
    passwordHash: '$argon2id$x',
    confirmed,
    locale: 'en',
    registeredBy: 'self',
  },
});
const unconfirmed = registered(false);
const confirmed = registered(true);
const blocked: UserEvent = { type: 'UserBlocked', data: { userId: USER } };
const emailConfirmed: UserEvent = { type: 'EmailConfirmed', data: { userId: USER } };

const token = (
  purpose: 'confirm' | 'reset',
  over: Partial<PresentedToken> = {},
): PresentedToken => ({
  userId: USER,
  purpose,
  expiresAt: LATER,
  usedAt: null,
  ...over,
});

const confirm = (t: PresentedToken | undefined): UserCommand => ({
  type: 'ConfirmEmail',
  data: { userId: USER, token: t, now: NOW },
});
const reset = (t: PresentedToken | undefined, liveSessions: string[] = []): UserCommand => ({
  type: 'ResetPassword',
  data: { userId: USER, token: t, now: NOW, passwordHash: '$argon2id$new', liveSessions },
});
const session = { userId: USER, sessionHash: 's1', expiresAt: LATER };
const logIn: UserCommand = { type: 'LogIn', data: session };
const requestReset = (recentResets: number): UserCommand => ({
  type: 'RequestPasswordReset',
  data: {
    userId: USER,
    email: 'alice@example.test',
    tokenHash: 't1',
    expiresAt: LATER,
    recentResets,
  },
});
const confirmation = { tokenHash: 'c2', expiresAt: LATER };

describe('a user who does not exist', () => {
  it('registers with a confirmation request when unconfirmed', () =>
    given([])
      .when({
        type: 'RegisterUser',
        data: {
          ...unconfirmed.data,
          usernameTaken: false,
          emailTaken: false,
          confirmation,
        } as never,
      })
      .then([
        unconfirmed,
        { type: 'EmailConfirmationRequested', data: { userId: USER, ...confirmation } },
      ]));

  it('registers a confirmed user without a confirmation request', () =>
    given([])
      .when({
        type: 'RegisterUser',
        data: { ...confirmed.data, usernameTaken: false, emailTaken: false, confirmation } as never,
      })
      .then([confirmed]));

  it('rejects a taken username', () =>
    given([])
      .when({
        type: 'RegisterUser',
        data: { ...unconfirmed.data, usernameTaken: true, emailTaken: false } as never,
      })
      .thenThrows(409, 'username already taken'));

  it('rejects a login, a confirmation and a reset', () => {
    given([]).when(logIn).thenThrows(404, 'user not found');
    given([])
      .when(confirm(token('confirm')))
      .thenThrows(404, 'user not found');
    given([])
      .when(reset(token('reset')))
      .thenThrows(404, 'user not found');
  });
});

describe('an unconfirmed user', () => {
  it('confirms with a live confirmation token', () =>
    given([unconfirmed])
      .when(confirm(token('confirm')))
      .then([emailConfirmed]));

  it('rejects unknown, used, foreign, wrong-purpose and expired tokens', () => {
    given([unconfirmed]).when(confirm(undefined)).thenThrows(400, 'invalid or expired token');
    given([unconfirmed])
      .when(confirm(token('confirm', { usedAt: EARLIER })))
      .thenThrows(400, 'invalid or expired token');
    given([unconfirmed])
      .when(confirm(token('confirm', { userId: 'u2' })))
      .thenThrows(400, 'invalid or expired token');
    given([unconfirmed])
      .when(confirm(token('reset')))
      .thenThrows(400, 'invalid or expired token');
    given([unconfirmed])
      .when(confirm(token('confirm', { expiresAt: NOW })))
      .thenThrows(400, 'token expired');
  });

  it('rejects a login', () =>
    given([unconfirmed]).when(logIn).thenThrows(403, 'email not confirmed'));

  it('gets a fresh confirmation link when someone registers with its address', () =>
    given([unconfirmed])
      .when({ type: 'NoteRegistrationAttempt', data: { userId: USER, confirmation } })
      .then([
        { type: 'RegistrationAttemptedForExistingEmail', data: { userId: USER } },
        { type: 'EmailConfirmationRequested', data: { userId: USER, ...confirmation } },
      ]));
});

describe('a confirmed user', () => {
  it('logs in', () =>
    given([unconfirmed, emailConfirmed])
      .when(logIn)
      .then([{ type: 'UserLoggedIn', data: session }]));

  it('is only told about a registration with its address', () =>
    given([confirmed])
      .when({ type: 'NoteRegistrationAttempt', data: { userId: USER, confirmation } })
      .then([{ type: 'RegistrationAttemptedForExistingEmail', data: { userId: USER } }]));

  it('gets a reset link while under the hourly mail budget', () =>
    given([confirmed])
      .when(requestReset(RESET_MAILS_PER_HOUR - 1))
      .then([
        {
          type: 'PasswordResetRequested',
          data: { userId: USER, tokenHash: 't1', expiresAt: LATER },
        },
      ]));

  it('records a refusal instead of a link past the budget', () =>
    given([confirmed])
      .when(requestReset(RESET_MAILS_PER_HOUR))
      .then([
        {
          type: 'PasswordResetRefused',
          data: { email: 'alice@example.test', userId: USER, reason: 'too_many_requests' },
        },
      ]));

  it('resets the password and ends every live session', () =>
    given([confirmed])
      .when(reset(token('reset'), ['s1', 's2']))
      .then([
        { type: 'PasswordReset', data: { userId: USER, passwordHash: '$argon2id$new' } },
        {
          type: 'SessionEnded',
          data: { userId: USER, sessionHash: 's1', reason: 'password_reset' },
        },
        {
          type: 'SessionEnded',
          data: { userId: USER, sessionHash: 's2', reason: 'password_reset' },
        },
      ]));

  it('rejects a used or expired reset token', () => {
    given([confirmed])
      .when(reset(token('reset', { usedAt: EARLIER })))
      .thenThrows(400, 'invalid or expired token');
    given([confirmed])
      .when(reset(token('reset', { expiresAt: EARLIER })))
      .thenThrows(400, 'token expired');
    given([confirmed])
      .when(reset(token('confirm')))
      .thenThrows(400, 'invalid or expired token');
  });

  it('is blocked with its live sessions ended', () =>
    given([confirmed])
      .when({ type: 'BlockUser', data: { userId: USER, liveSessions: ['s1'] } })
      .then([
        blocked,
        { type: 'SessionEnded', data: { userId: USER, sessionHash: 's1', reason: 'blocked' } },
      ]));
});

describe('a blocked user', () => {
  it('rejects a login', () =>
    given([confirmed, blocked]).when(logIn).thenThrows(403, 'account blocked'));

  it('can still reset its password', () =>
    given([confirmed, blocked])
      .when(reset(token('reset')))
      .then([{ type: 'PasswordReset', data: { userId: USER, passwordHash: '$argon2id$new' } }]));

  it('is not blocked twice', () =>
    given([confirmed, blocked])
      .when({ type: 'BlockUser', data: { userId: USER, liveSessions: ['s1'] } })
      .then([]));
});

describe('the login audit', () => {
  it('records unknown reset addresses by their digest only', () => {
    expect(
      loginAuditDecider.decide(
        { type: 'RecordUnknownReset', data: { typed: '0a1b2c3d4e5f6a7b' } },
        null,
      ),
    ).toEqual([
      {
        type: 'PasswordResetRefused',
        data: { typed: '0a1b2c3d4e5f6a7b', reason: 'unknown_email' },
      },
    ]);
    expect(loginAuditDecider.decide({ type: 'RecordUnknownReset', data: {} }, null)).toEqual([
      { type: 'PasswordResetRefused', data: { reason: 'unknown_email' } },
    ]);
  });
});
