import { describe, it } from 'vitest';
import { userDecider, type DeleteUser, type UserEvent } from '../../src/commands/user.js';
import { deciderSpec } from './decider-spec.js';

const spec = deciderSpec(userDecider);

const registered: UserEvent = {
  type: 'UserRegistered',
  data: {
    userId: 'u1',
    username: 'alice',
    email: 'alice@example.org',
    passwordHash: 'test$hash',
    confirmed: true,
    locale: 'en',
    registeredBy: 'operator',
  },
};

const deletion: DeleteUser = {
  type: 'DeleteUser',
  data: { userId: 'u1', redacted: [[1, 1]], blobs: ['ab'.repeat(32)] },
};

const deleted: UserEvent = {
  type: 'UserDeleted',
  data: { userId: 'u1', redacted: [[1, 1]], blobs: ['ab'.repeat(32)] },
};

describe('DeleteUser', () => {
  it('records what it erases and releases', () => {
    spec.given([registered]).when(deletion).then([deleted]);
  });

  it('deletes a blocked user too', () => {
    spec
      .given([registered, { type: 'UserBlocked', data: { userId: 'u1' } }])
      .when(deletion)
      .then([deleted]);
  });

  it('rejects an unknown user', () => {
    spec.given([]).when(deletion).thenThrows({ status: 404, code: 'not_found' });
  });

  it('rejects a user already deleted', () => {
    spec.given([registered, deleted]).when(deletion).thenThrows({ status: 404, code: 'not_found' });
  });
});
