import { randomBytes } from 'node:crypto';

export interface Ids {
  userId(): string;
  deviceId(): string;
  /** 32 random bytes as 64 hex characters: device tokens and other bearer secrets. */
  secret(): string;
  epoch(): string;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

export const randomIds: Ids = {
  userId: () => hex(12),
  deviceId: () => `dev_${hex(12)}`,
  secret: () => hex(32),
  epoch: () => hex(16),
};
