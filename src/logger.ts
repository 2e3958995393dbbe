import pino, { type Logger } from 'pino';

/**
 * Query parameters that carry secrets never reach a log: the legacy `api_key` (it
 * authenticates, CONTRACT.md §3.1), e-mail tokens, and form fields a client might send in
 * a URL by mistake. Compared case-insensitively: redacting a harmless look-alike costs
 * nothing.
 */
const SECRET_PARAMS = new Set([
  'api_key',
  'token',
  'device_token',
  'password',
  'new_password',
  'current_password',
  'confirm',
  'csrf_token',
  'locale_csrf',
  'smtp_pass',
]);

/**
 * A parameter's name as the query parser reads it (fast-querystring: `+` is a space,
 * then percent-decoding; a name that does not decode stays as sent), so that
 * `api%5Fkey`, which authenticates as `api_key`, is redacted as `api_key`.
 */
function parameterName(raw: string): string {
  const spaced = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/**
 * The URL with the value of every secret-bearing query parameter replaced. The value runs
 * to the next `&`, as the parser reads it (a `#` is part of it: a client that sends one
 * sends it as part of the token).
 */
export function redactUrl(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return url;
  const params = url.slice(query + 1).split('&');
  let changed = false;
  for (let i = 0; i < params.length; i++) {
    const param = params[i]!;
    const equals = param.indexOf('=');
    if (equals === -1) continue;
    if (SECRET_PARAMS.has(parameterName(param.slice(0, equals)).toLowerCase())) {
      params[i] = `${param.slice(0, equals)}=<redacted>`;
      changed = true;
    }
  }
  return changed ? `${url.slice(0, query + 1)}${params.join('&')}` : url;
}

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.new_password',
  '*.token',
  '*.device_token',
  '*.smtp_pass',
  '*.passwordHash',
];

interface RequestLike {
  method: string;
  url: string;
  ip?: string;
  id?: string;
}

export function createLogger(
  options: { level?: string; destination?: pino.DestinationStream } = {},
): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '<redacted>' },
      serializers: {
        req: (req: RequestLike) => ({ method: req.method, url: redactUrl(req.url), ip: req.ip }),
        err: pino.stdSerializers.err,
      },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
