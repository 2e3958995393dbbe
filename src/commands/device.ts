import type { EventOfType } from '../log/index.js';
import { conflict, notFound } from '../errors.js';
import type { Decider } from './decider.js';

export type DeviceEvent = EventOfType<'DevicePaired' | 'DeviceRevoked' | 'DeviceDeleted'>;

export type DeviceState =
  | { status: 'none' }
  | { status: 'active'; userId: string }
  | { status: 'revoked'; userId: string }
  | { status: 'deleted'; userId: string };

export type PairDevice = { type: 'PairDevice'; data: EventOfType<'DevicePaired'>['data'] };
export type RevokeDevice = {
  type: 'RevokeDevice';
  data: EventOfType<'DeviceRevoked'>['data'];
};
/**
 * CONTRACT.md §11 deletes only a revoked device; §10's DELETE /admin/api/keys/{id} revokes
 * an active one first (`revokeFirst`), in the same append, so the key never outlives it.
 */
export type DeleteDevice = {
  type: 'DeleteDevice';
  data: EventOfType<'DeviceDeleted'>['data'] & { revokeFirst: boolean };
};
export type DeviceCommand = PairDevice | RevokeDevice | DeleteDevice;

export const deviceStream = (deviceId: string) => `device/${deviceId}`;

/** CONTRACT.md §3.1: the first 8 and last 4 characters, the rest never kept. */
export const tokenHint = (token: string) => `${token.slice(0, 8)}…${token.slice(-4)}`;

function deleteDevice(command: DeleteDevice, state: DeviceState): DeviceEvent[] {
  const { revokeFirst, ...data } = command.data;
  if (state.status === 'none' || state.status === 'deleted' || state.userId !== data.userId) {
    throw notFound('device not found');
  }
  const deleted: DeviceEvent = { type: 'DeviceDeleted', data };
  if (state.status === 'revoked') return [deleted];
  if (!revokeFirst) throw conflict('device is still active', 'device_active');
  return [
    { type: 'DeviceRevoked', data: { deviceId: data.deviceId, userId: data.userId, by: 'admin' } },
    deleted,
  ];
}

export const deviceDecider: Decider<DeviceState, DeviceCommand, DeviceEvent> = {
  initialState: () => ({ status: 'none' }),
  evolve(state, event) {
    switch (event.type) {
      case 'DevicePaired':
        return { status: 'active', userId: event.data.userId };
      case 'DeviceRevoked':
        return state.status === 'active' ? { status: 'revoked', userId: state.userId } : state;
      case 'DeviceDeleted':
        return state.status === 'none' ? state : { status: 'deleted', userId: state.userId };
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
        if (
          state.status === 'none' ||
          state.status === 'deleted' ||
          state.userId !== command.data.userId
        ) {
          throw notFound('device not found');
        }
        // Revoking twice is harmless: the second request changes nothing.
        return state.status === 'revoked' ? [] : [{ type: 'DeviceRevoked', data: command.data }];
      case 'DeleteDevice':
        return deleteDevice(command, state);
      default: {
        const unreachable: never = command;
        return unreachable;
      }
    }
  },
};
