import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  userDecider,
  type RegisterUser,
  type UserCommand,
  type UserEvent,
} from '../../src/commands/user.js';
import { AppError } from '../../src/errors.js';
import { deciderSpec } from './decider-spec.js';

const spec = deciderSpec(userDecider);

const USER_ID = 'u1';

const registration = (overrides: Partial<RegisterUser['data']> = {}): RegisterUser => ({
  type: 'RegisterUser',
  data: {
    userId: USER_ID,
    username: 'alice',
    email: 'alice@example.org',
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    confirmed: false,
    locale: 'en',
    registeredBy: 'self',
    usernameTaken: false,
    usernameLookalike: false,
    emailTaken: false,
    ...overrides,
  },
});

const registered: UserEvent = {
  type: 'UserRegistered',
  data: {
    userId: USER_ID,
    username: 'alice',
    email: 'alice@example.org',
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    confirmed: false,
    locale: 'en',
    registeredBy: 'self',
  },
};
const blocked: UserEvent = { type: 'UserBlocked', data: { userId: USER_ID } };
const unblocked: UserEvent = { type: 'UserUnblocked', data: { userId: USER_ID } };

const block: UserCommand = { type: 'BlockUser', data: { userId: USER_ID, liveSessions: [] } };
const unblock: UserCommand = { type: 'UnblockUser', data: { userId: USER_ID } };

describe('user decider: no user yet', () => {
  it('registers a user, without the lookup flags in the event', () => {
    spec.given([]).when(registration()).then([registered]);
  });

  it('rejects a username that is already taken with 409 already_exists', () => {
    spec
      .given([])
      .when(registration({ usernameTaken: true }))
      .thenThrows({ status: 409, code: 'already_exists' });
  });

  it('rejects an email that is already registered with 409 already_exists', () => {
    spec
      .given([])
      .when(registration({ emailTaken: true }))
      .thenThrows({ status: 409, code: 'already_exists' });
  });

  it('rejects blocking an unknown user with 404 not_found', () => {
    spec.given([]).when(block).thenThrows({ status: 404, code: 'not_found' });
  });

  it('rejects unblocking an unknown user with 404 not_found', () => {
    spec.given([]).when(unblock).thenThrows({ status: 404, code: 'not_found' });
  });
});

describe('user decider: registered', () => {
  it('rejects registering the same id twice', () => {
    spec
      .given([registered])
      .when(registration())
      .thenThrows({ status: 409, code: 'already_exists' });
  });

  it('blocks the user', () => {
    spec.given([registered]).when(block).then([blocked]);
  });

  it('does nothing when unblocking an active user', () => {
    spec.given([registered]).when(unblock).then([]);
  });

  it('treats a user unblocked again as active', () => {
    spec.given([registered, blocked, unblocked]).when(unblock).then([]);
    spec.given([registered, blocked, unblocked]).when(block).then([blocked]);
  });
});

describe('user decider: blocked', () => {
  it('does nothing when blocking again', () => {
    spec.given([registered, blocked]).when(block).then([]);
  });

  it('unblocks the user', () => {
    spec.given([registered, blocked]).when(unblock).then([unblocked]);
  });

  it('rejects registering the same id again', () => {
    spec
      .given([registered, blocked])
      .when(registration({ username: 'other', email: 'other@example.org' }))
      .thenThrows({ status: 409, code: 'already_exists' });
  });
});

const historyArb = fc.constantFrom<UserEvent[]>(
  [],
  [registered],
  [registered, blocked],
  [registered, blocked, unblocked],
);

const commandArb: fc.Arbitrary<UserCommand> = fc.oneof(
  fc
    .record({ usernameTaken: fc.boolean(), emailTaken: fc.boolean(), confirmed: fc.boolean() })
    .map((flags) => registration(flags)),
  fc.constant(block),
  fc.constant(unblock),
);

const outcome = (history: readonly UserEvent[], command: UserCommand) => {
  const state = history.reduce((s, e) => userDecider.evolve(s, e), userDecider.initialState());
  try {
    return { events: userDecider.decide(structuredClone(command), state) };
  } catch (err) {
    return { error: err instanceof AppError ? { status: err.status, code: err.code } : err };
  }
};

describe('user decider properties', () => {
  test.prop([historyArb, commandArb])(
    'decide is deterministic: the same state and command give the same outcome',
    (history, command) => {
      expect(outcome(history, command)).toStrictEqual(outcome(history, command));
    },
  );

  test.prop([historyArb, commandArb])(
    'evolve never throws and decide only throws AppError',
    (history, command) => {
      const result = outcome(history, command);
      if ('error' in result) expect(result.error).toHaveProperty('code');
    },
  );
});
