import { describe, expect, it } from 'vitest';
import {
  deviceDecider,
  tokenHint,
  type DeleteDevice,
  type DeviceEvent,
} from '../../src/commands/device.js';
import { deciderSpec } from './decider-spec.js';

const spec = deciderSpec(deviceDecider);

const paired: Extract<DeviceEvent, { type: 'DevicePaired' }> = {
  type: 'DevicePaired',
  data: {
    deviceId: 'd1',
    userId: 'u1',
    vaultId: 'v1',
    name: 'laptop',
    clientVersion: 'verstak-desktop/v2',
    tokenHash: 'a'.repeat(64),
    tokenHint: 'abcdefgh…wxyz',
    via: 'pair',
  },
};
const revoked: DeviceEvent = {
  type: 'DeviceRevoked',
  data: { deviceId: 'd1', userId: 'u1', by: 'user' },
};
const deleted: DeviceEvent = {
  type: 'DeviceDeleted',
  data: { deviceId: 'd1', userId: 'u1', by: 'admin' },
};
const del = (revokeFirst: boolean, userId = 'u1'): DeleteDevice => ({
  type: 'DeleteDevice',
  data: { deviceId: 'd1', userId, by: 'admin', revokeFirst },
});

describe('DeleteDevice', () => {
  it('deletes a revoked device', () => {
    spec.given([paired, revoked]).when(del(false)).then([deleted]);
    spec.given([paired, revoked]).when(del(true)).then([deleted]);
  });

  it('rejects an active device unless told to revoke it first', () => {
    spec.given([paired]).when(del(false)).thenThrows({ status: 409, code: 'device_active' });
    spec
      .given([paired])
      .when(del(true))
      .then([
        { type: 'DeviceRevoked', data: { deviceId: 'd1', userId: 'u1', by: 'admin' } },
        deleted,
      ]);
  });

  it('rejects an unknown, deleted or foreign device', () => {
    const notFound = { status: 404, code: 'not_found' };
    spec.given([]).when(del(true)).thenThrows(notFound);
    spec.given([paired, revoked, deleted]).when(del(true)).thenThrows(notFound);
    spec.given([paired, revoked]).when(del(true, 'u2')).thenThrows(notFound);
  });
});

describe('a deleted device', () => {
  it('rejects revoking and pairing again under its id', () => {
    spec
      .given([paired, revoked, deleted])
      .when({ type: 'RevokeDevice', data: { deviceId: 'd1', userId: 'u1', by: 'admin' } })
      .thenThrows({ status: 404, code: 'not_found' });
    spec
      .given([paired, revoked, deleted])
      .when({ type: 'PairDevice', data: paired.data })
      .thenThrows({ status: 409, code: 'already_exists' });
  });
});

describe('tokenHint', () => {
  it('keeps the first 8 and last 4 characters of a 64-character token', () => {
    const token = '0123456789abcdef'.repeat(4);
    expect(tokenHint(token)).toBe('01234567…cdef');
    // 52 of 64 hex characters stay secret: 208 bits, well above 128.
    expect((token.length - 12) * 4).toBeGreaterThanOrEqual(128);
  });
});
