import type { Clock } from '../clock.js';
import { AppError, badRequest } from '../errors.js';
import type { Ids } from '../ids.js';
import { sha256Hex, type EventMeta, type Sqlite } from '../log/index.js';
import { findDeviceById } from '../projections/devices.js';
import { findUserById } from '../projections/users.js';
import { userBudget, type PasswordBudget } from '../security/password-budget.js';
import type { PasswordHasher } from '../security/passwords.js';
import { checkCredentials } from './auth-service.js';
import { deviceDecider, deviceStream, tokenHint } from './device.js';
import { eraseDeviceSideTables } from '../projections/device-side-tables.js';
import type { CommandHandler } from './handle.js';

const bytes = (s: string) => Buffer.byteLength(s);

export interface PairInput {
  readonly login: string;
  readonly password: string;
  readonly deviceName: string;
  readonly clientVersion: string;
  readonly vaultId: string;
  readonly via: 'pair' | 'register';
}

export interface PairedDevice {
  readonly userId: string;
  readonly deviceId: string;
  readonly token: string;
}

/** CONTRACT.md §4.1 step 4: the vault a device is bound to. */
export function validateVaultId(raw: string): string {
  const vaultId = raw.trim();
  if (vaultId === '') throw badRequest('vault_id required');
  if (vaultId.startsWith('legacy:')) throw badRequest('vault_id uses reserved prefix');
  if (bytes(vaultId) > 256) throw badRequest('vault_id is too long');
  return vaultId;
}

export type DeviceService = ReturnType<typeof createDeviceService>;

export function createDeviceService(deps: {
  db: Sqlite;
  handle: CommandHandler['handle'];
  hasher: PasswordHasher;
  ids: Ids;
  clock: Clock;
  budget: PasswordBudget;
}) {
  const { db, handle, hasher, ids, budget } = deps;
  return {
    async pair(input: PairInput, meta: EventMeta): Promise<PairedDevice> {
      const vaultId = validateVaultId(input.vaultId);
      if (bytes(input.login) > 320) throw badRequest('login is too long');
      if (bytes(input.deviceName) > 128) throw badRequest('device_name is too long');
      if (bytes(input.clientVersion) > 256) throw badRequest('client_version is too long');
      const user = await checkCredentials(db, hasher, input.login, input.password, {
        budget,
        action: input.via === 'pair' ? 'pair' : 'device-register',
        ip: meta.ip,
      });
      const deviceId = ids.deviceId();
      const token = ids.secret();
      handle({
        stream: deviceStream(deviceId),
        decider: deviceDecider,
        meta: { ...meta, actor: `user:${user.id}` },
        command: {
          type: 'PairDevice',
          data: {
            deviceId,
            userId: user.id,
            vaultId,
            name: input.deviceName.trim() || 'unknown',
            clientVersion: input.clientVersion,
            tokenHash: sha256Hex(token),
            tokenHint: tokenHint(token),
            via: input.via,
          },
        },
      });
      return { userId: user.id, deviceId, token };
    },

    /** /api/auth/test: the same checks as pairing, creating nothing. */
    async checkPassword(login: string, password: string, ip?: string): Promise<void> {
      if (bytes(login) > 320) throw badRequest('username is too long');
      await checkCredentials(db, hasher, login, password, { budget, action: 'auth-test', ip });
    },

    /** A signed-in user's password again (revocations): spends the same account budget. */
    async passwordMatches(userId: string, password: string, ip?: string): Promise<boolean> {
      return budget.spend(
        userBudget(userId),
        { action: 'auth-test', ip },
        () => hasher.verify(findUserById(db, userId)?.password_hash, password),
        (passed) => passed,
      );
    },

    /** Revokes a device of `userId`; unknown or foreign devices are not found. */
    revoke(deviceId: string, userId: string, by: 'self' | 'user' | 'admin', meta: EventMeta) {
      handle({
        stream: deviceStream(deviceId),
        decider: deviceDecider,
        meta,
        command: () => {
          const device = findDeviceById(db, deviceId);
          if (!device) throw new AppError(404, 'not_found', 'device not found');
          if (device.user_id !== userId) {
            throw new AppError(403, 'forbidden', 'device does not belong to you');
          }
          return { type: 'RevokeDevice' as const, data: { deviceId, userId, by } };
        },
      });
    },

    /**
     * An admin's removal of a device (CONTRACT.md §10, §11): false when there is no such
     * device, so nothing changed. An active one is refused (409) unless `revokeFirst`.
     * Its rows outside the log (last seen and IP, first-sync plan) go with it.
     */
    remove(deviceId: string, options: { revokeFirst: boolean }, meta: EventMeta): boolean {
      const events = handle({
        stream: deviceStream(deviceId),
        decider: deviceDecider,
        meta,
        command: (tx) => {
          const device = findDeviceById(tx, deviceId);
          if (!device) throw new AppError(404, 'not_found', 'device not found');
          return {
            type: 'DeleteDevice' as const,
            data: { deviceId, userId: device.user_id, by: 'admin' as const, ...options },
          };
        },
        sideEffects: (tx) => eraseDeviceSideTables(tx, deviceId),
      });
      return events.length > 0;
    },
  };
}
