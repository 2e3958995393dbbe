import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError, badRequest } from '../../errors.js';
import type { Runtime } from '../../runtime.js';
import { requestMeta, wireTime } from '../body.js';
import { credentialsBodyLimit, IGNORED_BODY_LIMIT } from '../body-limits.js';
import { createDeviceAuthenticator } from '../device-auth.js';
import { DEVICE_TOKEN, refusals, StatusAnswer } from '../openapi/answers.js';
import {
  AuthTestBody,
  MeAnswer,
  PairAnswer,
  PairBody,
  RegisterDeviceAnswer,
  RegisterDeviceBody,
  RevokeDeviceBody,
} from '../openapi/desktop-schemas.js';
import type { RateLimiter } from '../rate-limit.js';

export type ClientRouteDeps = Pick<
  Runtime,
  'db' | 'devices' | 'activity' | 'clock' | 'hasher' | 'refusals' | 'config'
> & {
  readonly limiter: RateLimiter;
};

/** CONTRACT.md §4.1–4.5 and §4.10: pairing and the device's own identity. */
export async function clientRoutes(fastify: FastifyInstance, deps: ClientRouteDeps) {
  const { devices, limiter } = deps;
  const app = fastify.withTypeProvider<ZodTypeProvider>();
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

  const signInRefusals = refusals({
    400: 'invalid_json, invalid_request: a field missing, too long or a reserved vault_id',
    401: 'unauthorized: invalid credentials',
    403: 'forbidden: account blocked, or e-mail not confirmed',
    429: 'rate_limited (Retry-After)',
  });
  const pairSchema = {
    summary: 'Pair a device with a username and password',
    body: PairBody,
    response: { 200: PairAnswer, ...signInRefusals },
  };
  app.post('/api/client/pair', { ...signIn, schema: pairSchema }, async (request) => {
    const { body } = request;
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
      initial_sync_cursor: 0 as const,
    };
  });

  const registerSchema = {
    summary: 'Enrol a device (legacy; pair is the desktop’s)',
    body: RegisterDeviceBody,
    response: { 200: RegisterDeviceAnswer, ...signInRefusals },
  };
  app.post('/api/v1/device/register', { ...signIn, schema: registerSchema }, async (request) => {
    const { body } = request;
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

  const testSchema = {
    summary: 'Check a username and password (the desktop’s “test connection”)',
    body: AuthTestBody,
    response: { 200: StatusAnswer('ok'), ...signInRefusals },
  };
  app.post('/api/auth/test', { ...signIn, schema: testSchema }, async (request) => {
    const { body } = request;
    if (!body.username || !body.password) throw badRequest('username and password required');
    limiter.check('auth-test', request.ip);
    await devices.checkPassword(body.username, body.password, request.ip);
    return { status: 'ok' };
  });

  const deviceRefusals = refusals({
    401: 'unauthorized: no, unknown or revoked device token',
    403: 'forbidden: the account is blocked',
  });
  await app.register(async (plain) => {
    const scoped = plain.withTypeProvider<ZodTypeProvider>();
    scoped.decorateRequest('device', null);
    // Authenticated before the body is read, like the sync routes.
    scoped.addHook('onRequest', authenticateDevice);

    const meSchema = {
      summary: 'The device’s own identity',
      security: DEVICE_TOKEN,
      response: { 200: MeAnswer, ...deviceRefusals },
    };
    scoped.get('/api/client/me', { schema: meSchema }, async (request) => {
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

    const revokeSchema = {
      summary: 'Revoke one of the account’s devices (password required)',
      security: DEVICE_TOKEN,
      body: RevokeDeviceBody,
      response: {
        200: StatusAnswer('revoked'),
        ...refusals({
          400: 'invalid_json, invalid_request: device_id and password required',
          401: 'unauthorized',
          403: 'forbidden: wrong password, or the device is another user’s',
          404: 'not_found: no such device',
          429: 'rate_limited',
        }),
      },
    };
    scoped.post(
      '/api/client/revoke-device',
      { bodyLimit, schema: revokeSchema },
      async (request) => {
        const device = request.device!;
        const { body } = request;
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
      },
    );

    // The desktop sends an empty body here; this route alone ignores its body. It is read
    // through fastify's own reader, the one that holds a body to the route's limit.
    await scoped.register(async (ignoringBody) => {
      ignoringBody.removeAllContentTypeParsers();
      ignoringBody.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) =>
        done(null, undefined),
      );
      const ignored = {
        bodyLimit: IGNORED_BODY_LIMIT,
        schema: {
          summary: 'Revoke this device (any body is ignored)',
          security: DEVICE_TOKEN,
          response: { 200: StatusAnswer('revoked'), ...deviceRefusals },
        },
      };
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
