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

const TOKEN = "[\\w!#$%&'*+.^`|~-]+";
const MEDIA_TYPE = new RegExp(`^\\s*${TOKEN}/${TOKEN}\\s*$`);

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
    app.addHook('onRequest', async (request) => {
      const type = request.headers['content-type'];
      if (type !== undefined && !MEDIA_TYPE.test(type.split(';', 1)[0]!)) {
        delete request.headers['content-type'];
      }
    });
    app.removeContentTypeParser(['application/json', 'text/plain']);
    app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
      if (typeof body !== 'string' || body.trim() === '') {
        done(new AppError(400, 'invalid_json', 'request body must be a JSON value'), undefined);
        return;
      }
      void secureParse(request, body, (err, value) => {
        if (!err) {
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
