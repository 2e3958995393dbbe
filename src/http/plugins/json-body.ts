import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../errors.js';

/**
 * fastify's parser replaces the SyntaxError with its own generic error, so the reason is
 * asked of V8 again: it names content after a complete value ("Unexpected non-whitespace
 * character after JSON"). Only failed bodies are parsed twice.
 */
function hasTrailingContent(body: string): boolean {
  try {
    JSON.parse(body);
    return false;
  } catch (err) {
    return err instanceof SyntaxError && /after JSON/i.test(err.message);
  }
}

const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * A `\uD800` escape without its pair parses to a lone surrogate, which UTF-8 storage
 * cannot hold: SQLite hands back U+FFFD in its place, so a pulled op_id or payload would
 * differ from the pushed one. Walked without recursion, since a body may nest deeply.
 */
function holdsLoneSurrogate(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return true;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (typeof v === 'object' && v !== null) {
      for (const [key, item] of Object.entries(v)) {
        if (LONE_SURROGATE.test(key)) return true;
        stack.push(item);
      }
    }
  }
  return false;
}

const TOKEN = "[\\w!#$%&'*+.^`|~-]+";
const MEDIA_TYPE = new RegExp(`^\\s*${TOKEN}/${TOKEN}\\s*$`);
const JSON_TYPE = 'application/json';

/**
 * The desktop does not always label its JSON (CONTRACT.md §2: Content-Type is not
 * checked), so any body that no other parser claims is read as JSON. Exactly one JSON
 * value is allowed; `__proto__` keys are refused by fastify's secure parser.
 */
export const jsonBody = fp(
  async (app: FastifyInstance) => {
    const secureParse = app.getDefaultJsonParser('error', 'error');
    // fastify answers 415 to a Content-Type it cannot parse before any parser runs; the
    // contract does not check the header, so such a value is dropped and the body read.
    app.addHook('onRequest', (request, _reply, done) => {
      const type = request.headers['content-type'];
      if (type !== undefined && type !== JSON_TYPE && !MEDIA_TYPE.test(type.split(';', 1)[0]!)) {
        delete request.headers['content-type'];
      }
      done();
    });
    app.removeContentTypeParser(['application/json', 'text/plain']);
    app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
      if (typeof body !== 'string' || body.trim() === '') {
        done(new AppError(400, 'invalid_json', 'request body must be a JSON value'), undefined);
        return;
      }
      void secureParse(request, body, (err, value) => {
        if (!err) {
          // Only an escape can produce a lone surrogate: UTF-8 text on the wire cannot.
          if (SURROGATE_ESCAPE.test(body) && holdsLoneSurrogate(value)) {
            done(
              new AppError(
                400,
                'invalid_json',
                'request body holds a string that is not valid Unicode',
              ),
              undefined,
            );
            return;
          }
          done(null, value);
          return;
        }
        done(
          hasTrailingContent(body)
            ? new AppError(400, 'trailing_json', 'request body must contain a single JSON value')
            : new AppError(400, 'invalid_json', 'request body is not valid JSON'),
          undefined,
        );
      });
    });
  },
  { name: 'json-body' },
);
