import { z } from 'zod';
import { defineEvent } from '../catalogue.js';

export const DevicePaired = defineEvent(
  'DevicePaired',
  z.object({
    deviceId: z.string(),
    userId: z.string(),
    vaultId: z.string(),
    name: z.string(),
    clientVersion: z.string(),
    /** sha256 of the device token: the token itself is shown once and never stored. */
    tokenHash: z.string(),
    via: z.enum(['pair', 'register']),
  }),
  { redact: ['tokenHash'] },
);

export const DeviceRevoked = defineEvent(
  'DeviceRevoked',
  z.object({
    deviceId: z.string(),
    userId: z.string(),
    by: z.enum(['self', 'user', 'admin']),
  }),
);

export const DEVICE_EVENTS = [DevicePaired, DeviceRevoked] as const;
