import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError, badRequest } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { parseJsonBody, requestMeta, wireTime } from '../body.js';
import { credentialsBodyLimit, IGNORED_BODY_LIMIT } from '../body-limits.js';
import { createDeviceAuthenticator } from '../device-auth.js';
import type { RateLimiter } from '../rate-limit.js';

export type ClientRouteDeps = Pick<
  Runtime,
  'db' | 'devices' | 'activity' | 'clock' | 'hasher' | 'refusals' | 'config'
> & {
  readonly limiter: RateLimiter;
};

const str = z.string().default('');

const PairBody = z.object({
  login: str,
  password: str,
  device_name: str,
  client_version: str,
  vault_id: str,
});
const AuthTestBody = z.object({ username: str, password: str });
const RevokeDeviceBody = z.object({ device_id: str, password: str });
const RegisterDeviceBody = z.object({ name: str, username: str, password: str, vault_id: str });

/** CONTRACT.md §4.1–4.5 and §4.10: pairing and the device's own identity. */
export async function clientRoutes(app: FastifyInstance, deps: ClientRouteDeps) {
  const { devices, limiter } = deps;
  const authenticateDevice = createDeviceAuthenticator(deps);
  const bodyLimit = credentialsBodyLimit(deps.config.limits);

  /** The desktop's sign-ins: a refused one is counted for the audit like the web login's. */
  const signIn = {
    bodyLimit,
    onError(request: FastifyRequest, _reply: FastifyReply, err: Error, done: () => void) {
      if (err instanceof AppError && (err.status === 401 || err.status === 403)) {
        const body = (request.body ?? {}) as { login?: unknown; username?: unknown };
        const typed = body.login ?? body.username;
        deps.refusals.record({
          kind: 'user_login',
          reason: err.message.replace(/\W+/g, '_'),
          ip: request.ip,
          typed: typeof typed === 'string' ? typed : undefined,
        });
      }
      done();
    },
  };

  app.post('/api/client/pair', signIn, async (request) => {
    const body = parseJsonBody(PairBody, request.body);
    if (!body.login || !body.password) throw badRequest('login and password required');
    limiter.check('pair', request.ip);
    const paired = await devices.pair(
      {
        login: body.login,
        password: body.password,
        deviceName: body.device_name,
        clientVersion: body.client_version,
        vaultId: body.vault_id,
        via: 'pair',
      },
      requestMeta(request, 'anonymous'),
    );
    return {
      user_id: paired.userId,
      device_id: paired.deviceId,
      device_token: paired.token,
      server_time: wireTime(deps.clock.now().toISOString()),
      initial_sync_cursor: 0,
    };
  });

  app.post('/api/v1/device/register', signIn, async (request) => {
    const body = parseJsonBody(RegisterDeviceBody, request.body);
    if (!body.name.trim()) throw badRequest('name required');
    if (!body.username || !body.password) {
      throw new AppError(401, 'unauthorized', 'username and password required');
    }
    limiter.check('device-register', request.ip);
    const paired = await devices.pair(
      {
        login: body.username,
        password: body.password,
        deviceName: body.name,
        clientVersion: '',
        vaultId: body.vault_id,
        via: 'register',
      },
      requestMeta(request, 'anonymous'),
    );
    return { device_id: paired.deviceId, device_token: paired.token };
  });

  app.post('/api/auth/test', signIn, async (request) => {
    const body = parseJsonBody(AuthTestBody, request.body);
    if (!body.username || !body.password) throw badRequest('username and password required');
    limiter.check('auth-test', request.ip);
    await devices.checkPassword(body.username, body.password, request.ip);
    return { status: 'ok' };
  });

  await app.register(async (scoped) => {
    scoped.decorateRequest('device', null);
    // Authenticated before the body is read, like the sync routes.
    scoped.addHook('onRequest', authenticateDevice);

    scoped.get('/api/client/me', async (request) => {
      const device = request.device!;
      return {
        device_id: device.deviceId,
        user_id: device.userId,
        username: device.username,
        device_name: device.name,
        client_version: device.clientVersion,
        last_seen: wireTime(deps.activity.lastSeen(device.deviceId)?.last_seen),
        revoked_at: '',
        created_at: wireTime(device.createdAt),
      };
    });

    scoped.post('/api/client/revoke-device', { bodyLimit }, async (request) => {
      const device = request.device!;
      const body = parseJsonBody(RevokeDeviceBody, request.body);
      if (!body.device_id || !body.password) throw badRequest('device_id and password required');
      limiter.check('auth-test', request.ip);
      if (!(await devices.passwordMatches(device.userId, body.password, request.ip))) {
        throw new AppError(403, 'forbidden', 'wrong password');
      }
      devices.revoke(
        body.device_id,
        device.userId,
        'user',
        requestMeta(request, `device:${device.deviceId}`),
      );
      return { status: 'revoked' };
    });

    // The desktop sends an empty body here; this route alone ignores its body. It is read
    // through fastify's own reader, the one that holds a body to the route's limit.
    await scoped.register(async (ignoringBody) => {
      ignoringBody.removeAllContentTypeParsers();
      ignoringBody.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) =>
        done(null, undefined),
      );
      const ignored = { bodyLimit: IGNORED_BODY_LIMIT };
      ignoringBody.post('/api/client/revoke-current', ignored, async (request) => {
        const device = request.device!;
        devices.revoke(
          device.deviceId,
          device.userId,
          'self',
          requestMeta(request, `device:${device.deviceId}`),
        );
        return { status: 'revoked' };
      });
    });
  });
}
