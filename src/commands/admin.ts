import type { EventOfType } from '../log/index.js';
import { notFound } from '../errors.js';
import type { Decider } from './decider.js';
import type { UserState } from './user.js';

export type AdminEvent = EventOfType<'AdminLoggedIn' | 'AdminSessionEnded'>;

export type AdminCommand =
  | {
      type: 'AdminLogIn';
      /** previous: the live session this browser held, which the new one replaces. */
      data: { username: string; sessionHash: string; expiresAt: string; previous?: string };
    }
  | {
      type: 'AdminLogOut';
      data: { username: string; sessionHash: string };
    };

/** Admins are config.yml entries; their stream only records sessions and refusals. */
export const adminStream = (username: string) => `admin/${username.trim().toLowerCase()}`;

export const adminDecider: Decider<null, AdminCommand, AdminEvent> = {
  initialState: () => null,
  evolve: (state) => state,
  decide(command) {
    switch (command.type) {
      case 'AdminLogIn': {
        const { previous, ...data } = command.data;
        const ended: AdminEvent[] = previous
          ? [
              {
                type: 'AdminSessionEnded',
                data: { username: data.username, sessionHash: previous, reason: 'replaced' },
              },
            ]
          : [];
        return [...ended, { type: 'AdminLoggedIn', data }];
      }
      case 'AdminLogOut':
        return [{ type: 'AdminSessionEnded', data: { ...command.data, reason: 'logout' } }];
    }
  },
};

export type AdminConfirmUser = { type: 'AdminConfirmUser'; data: { userId: string } };

/**
 * An admin marks an address confirmed without its token (CONTRACT.md §11 confirm-user): the
 * same EmailConfirmed the mailed link records, on the user's stream; a no-op when confirmed.
 */
export const adminConfirmDecider: Decider<
  UserState,
  AdminConfirmUser,
  EventOfType<'EmailConfirmed'>
> = {
  initialState: () => ({ status: 'none' }),
  evolve: (state) => state,
  decide(command, state) {
    if (state.status === 'none') throw notFound('user not found');
    if (state.confirmed) return [];
    return [{ type: 'EmailConfirmed', data: { userId: command.data.userId } }];
  },
};
