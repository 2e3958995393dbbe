import type { EventOfType } from '../log/index.js';
import { AppError, conflict } from '../errors.js';
import type { Decider } from './decider.js';

export type UserEvent = EventOfType<'UserRegistered' | 'UserBlocked' | 'UserUnblocked'>;

export type UserState =
  | { status: 'none' }
  | { status: 'registered'; userId: string; blocked: boolean; confirmed: boolean };

export type RegisterUser = {
  type: 'RegisterUser';
  data: {
    userId: string;
    username: string;
    email: string;
    passwordHash: string;
    confirmed: boolean;
    locale: string;
    registeredBy: 'self' | 'operator' | 'admin';
    /** Looked up by the handler inside the append transaction. */
    usernameTaken: boolean;
    emailTaken: boolean;
  };
};
export type BlockUser = { type: 'BlockUser'; data: { userId: string } };
export type UnblockUser = { type: 'UnblockUser'; data: { userId: string } };
export type UserCommand = RegisterUser | BlockUser | UnblockUser;

export const userStream = (userId: string) => `user/${userId}`;

const requireUser = (state: UserState) => {
  if (state.status === 'none') throw new AppError(404, 'not_found', 'user not found');
  return state;
};

function register(command: RegisterUser, state: UserState): UserEvent[] {
  if (state.status !== 'none') throw conflict('user id already exists');
  const { usernameTaken, emailTaken, ...data } = command.data;
  if (usernameTaken) throw conflict('username already taken');
  if (emailTaken) throw conflict('email already registered');
  return [{ type: 'UserRegistered', data }];
}

function block(command: BlockUser, state: UserState): UserEvent[] {
  return requireUser(state).blocked ? [] : [{ type: 'UserBlocked', data: command.data }];
}

function unblock(command: UnblockUser, state: UserState): UserEvent[] {
  return requireUser(state).blocked ? [{ type: 'UserUnblocked', data: command.data }] : [];
}

export const userDecider: Decider<UserState, UserCommand, UserEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve(state, event) {
    switch (event.type) {
      case 'UserRegistered':
        return {
          status: 'registered',
          userId: event.data.userId,
          blocked: false,
          confirmed: event.data.confirmed,
        };
      case 'UserBlocked':
        return state.status === 'registered' ? { ...state, blocked: true } : state;
      case 'UserUnblocked':
        return state.status === 'registered' ? { ...state, blocked: false } : state;
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'RegisterUser':
        return register(command, state);
      case 'BlockUser':
        return block(command, state);
      case 'UnblockUser':
        return unblock(command, state);
      default: {
        const unreachable: never = command;
        return unreachable;
      }
    }
  },
};
