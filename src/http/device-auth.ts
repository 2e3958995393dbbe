import { hash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import type { RefusalCounter } from '../commands/refusals-service.js';
import { AppError } from '../errors.js';
import type { Sqlite } from '../log/index.js';
import type { DeviceActivity } from '../projections/device-activity.js';
import { findDeviceByTokenHash } from '../projections/devices.js';

/** Who is calling on the sync API: scope always comes from here, never from the body. */
export interface DevicePrincipal {
  readonly deviceId: string;
  readonly userId: string;
  readonly username: string;
  readonly vaultId: string;
  readonly name: string;
  readonly clientVersion: string;
  readonly createdAt: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    device: DevicePrincipal | null;
  }
}

const unauthorized = (message: string) => new AppError(401, 'unauthorized', message);

/**
 * CONTRACT.md §3.1: `Authorization: Bearer <token>`, or the raw token in that header,
 * or (legacy) `?api_key=`. The desktop sends an empty `Bearer ` on anonymous calls.
 * The query parameter is read by its decoded name, so `?api%5Fkey=` works too; the
 * request log redacts it by that same decoded name (redactUrl in logger.ts).
 */
export function presentedToken(request: FastifyRequest): string {
  const header = request.headers.authorization ?? '';
  const fromHeader = (header.startsWith('Bearer ') ? header.slice(7) : header).trim();
  if (fromHeader) return fromHeader;
  const query = request.query as Record<string, unknown> | undefined;
  const apiKey = query?.api_key;
  return typeof apiKey === 'string' ? apiKey.trim() : '';
}

/**
 * A callback-style hook (onRequest or preHandler): it does no I/O but a synchronous
 * SQLite read, and an async hook would cost a promise and a microtask turn per request.
 * Nothing is cached: a revoked device or a blocked user is refused on its next request.
 */
export function createDeviceAuthenticator(deps: {
  db: Sqlite;
  activity: DeviceActivity;
  clock: Clock;
  refusals: RefusalCounter;
}) {
  // Counted for the audit, never logged one by one: a client can send refused tokens
  // as fast as it likes.
  const refuse = (request: FastifyRequest, reason: string, error: AppError, deviceId?: string) => {
    deps.refusals.record({ kind: 'device_auth', reason, ip: request.ip, deviceId });
    return error;
  };
  const authenticate = (request: FastifyRequest): DevicePrincipal => {
    const token = presentedToken(request);
    if (!token) throw refuse(request, 'missing_token', unauthorized('API key required'));
    // The digest pairing stored (sha256Hex), in one call.
    const row = findDeviceByTokenHash(deps.db, hash('sha256', token, 'hex'));
    if (!row) throw refuse(request, 'invalid_token', unauthorized('invalid API key'));
    if (row.revoked_at) {
      throw refuse(request, 'revoked_device', unauthorized('device revoked'), row.id);
    }
    if (row.blocked) {
      throw refuse(request, 'blocked_user', new AppError(403, 'forbidden', 'user blocked'), row.id);
    }
    const notRecorded = deps.activity.touch(row.id, deps.clock.now(), request.ip);
    if (notRecorded) request.log.warn({ err: notRecorded }, 'device last_seen not recorded');
    return {
      deviceId: row.id,
      userId: row.user_id,
      username: row.username,
      vaultId: row.vault_id,
      name: row.name,
      clientVersion: row.client_version,
      createdAt: row.created_at,
    };
  };
  return function authenticateDevice(
    request: FastifyRequest,
    _reply: FastifyReply,
    done: (err?: Error) => void,
  ): void {
    try {
      request.device = authenticate(request);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  };
}
