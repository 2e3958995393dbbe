import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

const DevicePairedV1 = z.object({
  deviceId: z.string(),
  userId: z.string(),
  vaultId: z.string(),
  name: z.string(),
  clientVersion: z.string(),
  /** sha256 of the device token: the token itself is shown once and never stored. */
  tokenHash: z.string(),
  via: z.enum(['pair', 'register']),
});

/**
 * v2 adds the token's hint for the admin keys list (CONTRACT.md §10): its first 8 and last
 * 4 characters. Devices paired before v2 never had one recorded (the token is not kept),
 * so their hint is null rather than absent: every reader sees one shape.
 */
export const DevicePaired = defineEvent(
  'DevicePaired',
  DevicePairedV1.extend({ tokenHint: z.string().nullable() }),
  {
    version: 2,
    history: [
      {
        version: 1,
        schema: DevicePairedV1,
        upcast: (v1: z.infer<typeof DevicePairedV1>) => ({ ...v1, tokenHint: null }),
      },
    ],
    redact: ['tokenHash', 'tokenHint'],
  },
);

export const DeviceRevoked = defineEvent(
  'DeviceRevoked',
  z.object({
    deviceId: z.string(),
    userId: z.string(),
    by: z.enum(['self', 'user', 'admin']),
  }),
);

/** An admin removed a revoked device for good; its projections drop the row. */
export const DeviceDeleted = defineEvent(
  'DeviceDeleted',
  z.object({
    deviceId: z.string(),
    userId: z.string(),
    by: z.enum(['admin']),
  }),
);

export const DEVICE_EVENTS = [DevicePaired, DeviceRevoked, DeviceDeleted] as const;
