import type { EventOfType } from '../log/index.js';
import { conflict, notFound } from '../errors.js';
import type { Decider } from './decider.js';

export type DeviceEvent = EventOfType<'DevicePaired' | 'DeviceRevoked'>;

export type DeviceState =
  | { status: 'none' }
  | { status: 'active'; userId: string }
  | { status: 'revoked'; userId: string };

export type PairDevice = { type: 'PairDevice'; data: EventOfType<'DevicePaired'>['data'] };
export type RevokeDevice = {
  type: 'RevokeDevice';
  data: EventOfType<'DeviceRevoked'>['data'];
};
export type DeviceCommand = PairDevice | RevokeDevice;

export const deviceStream = (deviceId: string) => `device/${deviceId}`;

export const deviceDecider: Decider<DeviceState, DeviceCommand, DeviceEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve(state, event) {
    switch (event.type) {
      case 'DevicePaired':
        return { status: 'active', userId: event.data.userId };
      case 'DeviceRevoked':
        return state.status === 'none' ? state : { status: 'revoked', userId: state.userId };
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'PairDevice':
        if (state.status !== 'none') throw conflict('device id already exists');
        return [{ type: 'DevicePaired', data: command.data }];
      case 'RevokeDevice':
        if (state.status === 'none' || state.userId !== command.data.userId) {
          throw notFound('device not found');
        }
        // Revoking twice is harmless: the second request changes nothing.
        return state.status === 'revoked' ? [] : [{ type: 'DeviceRevoked', data: command.data }];
      default: {
        const unreachable: never = command;
        return unreachable;
      }
    }
  },
};
