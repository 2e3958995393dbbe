import pino, { type Logger } from 'pino';

// Query parameters that carry secrets (legacy api_key, e-mail tokens) never reach a log.
const SECRET_QUERY = /([?&](?:api_key|token)=)[^&#]*/gi;
export const redactUrl = (url: string) => url.replace(SECRET_QUERY, '$1<redacted>');

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
