import fastifyCookie from '@fastify/cookie';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { redactUrl } from '../logger.js';
import { metricsRoute } from '../metrics/exposure.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import type { Runtime } from '../runtime.js';
import { readBuildInfo, type BuildInfo } from '../version.js';
import { registerWebAssets } from '../web/assets.js';
import { renderError } from '../web/errors.js';
import { webRoutes } from '../web/index.js';
import { errorHandling, sendError } from './plugins/errors.js';
import { clientErrorHandler, frameworkErrorHandler } from './plugins/framework-errors.js';
import { createHstsPolicy } from './plugins/hsts.js';
import { checkAnswers, CHECK_ANSWERS_ENV } from './openapi/answer-check.js';
import { registerOpenApi } from './openapi/document.js';
import { jsonBody } from './plugins/json-body.js';
import { oversizedBodies } from './plugins/oversized.js';
import { connectionLimits } from './connection-limits.js';
import { httpServerOptions } from './server-options.js';
import { createTrustedPeers } from './trusted-peers.js';
import { securityHeaders } from './plugins/security-headers.js';
import { createRateLimiter } from './rate-limit.js';
import { createRequestIds } from './request-id.js';
import { blobRoutes } from './routes/blobs.js';
import { authRoutes } from './routes/auth.js';
import { clientRoutes } from './routes/client.js';
import { healthRoutes, type HealthDeps } from './routes/health.js';
import { syncRoutes } from './routes/sync.js';
import { userRoutes } from './routes/user.js';

export type AppDeps = Runtime & {
  readonly logger?: Logger | false;
  readonly build?: BuildInfo;
  /** Checks every API answer against the OpenAPI document (the tests'; default from env). */
  readonly checkAnswers?: boolean;
  /** Where the logger writes, for health to report lines it had to drop. */
  readonly logOutput?: HealthDeps['logOutput'];
  /**
   * The instance's metrics when serve enabled them (a metrics listener); without it the app
   * makes its own only when config.yml sets metrics.token (README, "Metrics").
   */
  readonly metrics?: Metrics;
};

/**
 * One line per request at info level. Skipped without building the line when the level is
 * above info (the usual production setting): the pull path answers thousands a second.
 */
function logRequests(app: FastifyInstance): void {
  app.addHook('onResponse', (request, reply, done) => {
    if ((request.log as Logger).isLevelEnabled('info')) {
      request.log.info(
        {
          method: request.method,
          url: redactUrl(request.url),
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
          ip: request.ip,
        },
        'request',
      );
    }
    done();
  });
}

/** How often refused requests are summed up in the log (never a line per refusal). */
const RATE_LIMIT_SUMMARY_MS = 60_000;

function logRateLimitSummaries(app: FastifyInstance, log: AppDeps['rateLimitLog']): void {
  const write = () => {
    const summary = log.drain();
    // RELIABILITY.md §2.3: every lockout is logged, here by name in the interval's summary.
    if (summary) app.log.warn({ rateLimits: summary }, 'rate limits refused requests');
  };
  const timer = setInterval(write, RATE_LIMIT_SUMMARY_MS);
  timer.unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    write();
  });
}

/** Builds the whole HTTP application without listening; tests drive it with inject(). */
/**
 * A request that arrives once shutdown began (SIGTERM: the server drains what it is
 * answering) gets the contract's error body, 503 `shutting_down`, and when to come back;
 * fastify's own 503 would carry {error, message, statusCode}, which clients do not read.
 */
function answerWhileClosing(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) {
      done();
      return;
    }
    reply.header('retry-after', '5').header('connection', 'close');
    sendError(reply, 503, 'shutting_down', 'server shutting down, try again shortly');
  });
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const requestIds = createRequestIds();
  const strictTransport = createHstsPolicy({
    configuredPublicUrl: deps.configuredPublicUrl,
    bus: deps.bus,
  });
  const log = deps.logger || undefined;
  const options: FastifyServerOptions = {
    genReqId: requestIds,
    // fastify's and Node's own refusals, in the contract's shape with the usual headers.
    frameworkErrors: frameworkErrorHandler({ strictTransport, log }),
    clientErrorHandler: clientErrorHandler({ strictTransport, log, requestId: requestIds }),
    bodyLimit: config.limits.max_json_body,
    connectionTimeout: config.timeouts.request_ms * 2,
    keepAliveTimeout: config.timeouts.keep_alive_ms,
    requestTimeout: config.timeouts.request_ms,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Answered by answerWhileClosing below, in the contract's error shape.
    return503OnClosing: false,
    // One line per request (below) instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: config.trusted_proxies.length > 0 ? config.trusted_proxies : false,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
  };
  const app = Fastify({
    ...options,
    // Node's own header and request timeouts, checked often enough to apply on time.
    http: httpServerOptions(config.timeouts),
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
  });
  if (deps.logger) logRequests(app);
  const token = config.metrics.token;
  const ownMetrics = !deps.metrics && token ? await createMetrics(deps) : undefined;
  const metrics = deps.metrics ?? ownMetrics;
  // Before any route is registered, so that every route is timed.
  metrics?.recordRequests(app);
  app.addHook('onClose', (_app, done) => {
    ownMetrics?.close();
    done();
  });
  // CONTRACT.md §2: JSON bodies end with a newline. Callback-style hooks here and below:
  // an async hook costs a promise and a microtask turn on every request.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (typeof payload !== 'string' || payload.endsWith('\n')) {
      done(null, payload);
      return;
    }
    const type = reply.getHeader('content-type');
    done(
      null,
      typeof type === 'string' && type.startsWith('application/json') ? `${payload}\n` : payload,
    );
  });
  await app.register(securityHeaders, { strictTransport });
  // After the security headers: the 503 it sends carries them like every other answer.
  answerWhileClosing(app);
  app.addHook('onClose', (_app, done) => {
    strictTransport.stop();
    done();
  });
  await app.register(connectionLimits, {
    maxConnections: config.limits.max_connections,
    maxPerClient: config.limits.max_connections_per_client,
    isSharedPeer: createTrustedPeers(config.trusted_proxies),
    refusalGraceMs: Math.min(config.timeouts.headers_ms, 5_000),
  });
  // Before the error handling: its 404 page reads the locale and form-token cookies.
  await app.register(fastifyCookie);
  await app.register(errorHandling, {
    notFoundPage: (request, reply) => renderError(request, reply, deps, 404),
  });
  await app.register(jsonBody);
  await app.register(oversizedBodies);
  const build = deps.build ?? readBuildInfo();
  // Before the API's routes: the document is collected as they are added.
  await registerOpenApi(app, build.version);
  if (deps.checkAnswers ?? process.env[CHECK_ANSWERS_ENV] === '1') checkAnswers(app);
  await registerWebAssets(app);
  await app.register(healthRoutes, {
    db: deps.db,
    blobDir: deps.blobDir,
    clock: deps.clock,
    build,
    startedAt: Date.now(),
    ...(deps.logOutput ? { logOutput: deps.logOutput } : {}),
    ...(deps.checkpointer ? { checkpointer: deps.checkpointer } : {}),
  });
  const limiter = createRateLimiter(deps.clock, {
    onRefused: (r) => {
      deps.rateLimitLog.refused(r);
      if (r.lockout) deps.rateLimitLog.lockout(r);
      const reason = r.scope === 'client' ? r.action : `${r.action}/account`;
      deps.refusals.record({ kind: 'rate_limit', reason, ip: r.ip, typed: r.account });
    },
  });
  logRateLimitSummaries(app, deps.rateLimitLog);
  await app.register(clientRoutes, { ...deps, limiter });
  // Off the public listener unless a token guards it (CONTRACT.md §19).
  if (metrics && token) metricsRoute(app, metrics, token);
  await app.register(syncRoutes, { ...deps, metrics });
  await app.register(blobRoutes, deps);
  await app.register(authRoutes, { ...deps, limiter });
  await app.register(userRoutes, { ...deps, limiter });
  await app.register(webRoutes, { ...deps, limiter });
  return app;
}
