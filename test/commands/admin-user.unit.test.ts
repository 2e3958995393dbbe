import { describe, expect, it } from 'vitest';
import {
  adminUserDecider,
  type AdminResetPassword,
  type UpdateUser,
} from '../../src/commands/admin-user.js';
import type { UserState } from '../../src/commands/user.js';
import { AppError } from '../../src/errors.js';

// The state comes from the users projection (loadUserState), as in the console's handler;
// these call decide with it directly.

const REGISTERED: UserState = {
  status: 'registered',
  userId: 'u1',
  blocked: false,
  confirmed: true,
};
const NONE: UserState = { status: 'none' };

const update = (data: Partial<UpdateUser['data']> = {}): UpdateUser => ({
  type: 'UpdateUser',
  data: {
    userId: 'u1',
    username: 'alicia',
    email: 'alicia@example.test',
    current: { username: 'alice', email: 'alice@example.test' },
    usernameTaken: false,
    usernameLookalike: false,
    emailTaken: false,
    ...data,
  },
});

const reset = (liveSessions: string[] = []): AdminResetPassword => ({
  type: 'AdminResetPassword',
  data: { userId: 'u1', passwordHash: '$argon2id$hash', liveSessions },
});

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return { status: (err as AppError).status, code: (err as AppError).code };
  }
  throw new Error('decide should have thrown');
};

describe('UpdateUser', () => {
  it('records the new username and address', () => {
    expect(adminUserDecider.decide(update(), REGISTERED)).toStrictEqual([
      {
        type: 'UserUpdated',
        data: { userId: 'u1', username: 'alicia', email: 'alicia@example.test' },
      },
    ]);
  });

  it('records nothing when nothing changes', () => {
    const same = update({ username: 'alice', email: 'alice@example.test' });
    expect(adminUserDecider.decide(same, REGISTERED)).toEqual([]);
  });

  it('rejects a taken username or address with 409, and an unknown user with 404', () => {
    const taken = { status: 409, code: 'already_exists' };
    expect(
      refusal(() => adminUserDecider.decide(update({ usernameTaken: true }), REGISTERED)),
    ).toEqual(taken);
    expect(
      refusal(() => adminUserDecider.decide(update({ emailTaken: true }), REGISTERED)),
    ).toEqual(taken);
    expect(refusal(() => adminUserDecider.decide(update(), NONE))).toEqual({
      status: 404,
      code: 'not_found',
    });
  });
});

describe('AdminResetPassword', () => {
  it('sets the hash and ends every live session', () => {
    expect(adminUserDecider.decide(reset(['s1', 's2']), REGISTERED)).toStrictEqual([
      { type: 'PasswordReset', data: { userId: 'u1', passwordHash: '$argon2id$hash' } },
      { type: 'SessionEnded', data: { userId: 'u1', sessionHash: 's1', reason: 'password_reset' } },
      { type: 'SessionEnded', data: { userId: 'u1', sessionHash: 's2', reason: 'password_reset' } },
    ]);
  });

  it('rejects an unknown user with 404', () => {
    expect(refusal(() => adminUserDecider.decide(reset(), NONE))).toEqual({
      status: 404,
      code: 'not_found',
    });
  });
});
