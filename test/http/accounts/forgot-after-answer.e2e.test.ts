import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../helpers/app.js';
import type { TestServer } from '../../helpers/sync-app.js';
import { emailOf, outbox, post, registerConfirmed, send, startAccountsServer } from './helpers.js';

// A forgot-password request does its work (token, event, mail) after it is answered, so
// that its timing cannot tell whether the address has an account (forgot-timing.e2e.test.ts).
// A failure of that work reaches no client: it must be logged, and the server goes on.

let server: TestServer;
afterEach(async () => server?.close());

const FAILURE = 'forgot-password request failed after its answer';
const FORM_TOKEN = 'b'.repeat(64);

const ROUTES = {
  api: (email: string) => post(server, '/api/v1/auth/forgot', { email }),
  web: (email: string) =>
    send(server, 'POST', '/forgot', undefined, {
      payload: new URLSearchParams({ email, locale_csrf: FORM_TOKEN }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      cookies: { verstak_locale_csrf: FORM_TOKEN },
    }),
} as const;

const resetMails = () =>
  outbox(server, emailOf('alice')).filter((m) => m.template === 'reset-password');

describe('forgot-password work after the answer', () => {
  for (const route of ['api', 'web'] as const) {
    it(`answers alike when the work then fails, logs why, and goes on serving (${route})`, async () => {
      const memory = memoryLogger();
      server = await startAccountsServer({ logger: memory.logger });
      await registerConfirmed(server, 'alice');
      const unknown = await ROUTES[route]('nobody@example.test');
      // A real refusal by SQLite: the database takes no writes until this is undone.
      server.runtime.db.pragma('query_only = 1');
      const failed = await ROUTES[route](emailOf('alice'));
      server.runtime.db.pragma('query_only = 0');
      expect(failed.statusCode).toBe(unknown.statusCode);
      expect(failed.body).toBe(unknown.body);
      expect(failed.headers.location).toBe(unknown.headers.location);
      const errors = memory.lines.filter((l) => l.msg === FAILURE);
      expect(errors).toHaveLength(1);
      expect((errors[0]!.err as { message: string }).message).toMatch(/readonly|read-only/);
      expect(resetMails()).toEqual([]);

      const again = await ROUTES[route](emailOf('alice'));
      expect(again.statusCode).toBe(unknown.statusCode);
      expect(resetMails()).toHaveLength(1);
      expect(memory.lines.filter((l) => l.msg === FAILURE)).toHaveLength(1);
    });
  }

  it('has done the work of every answered request once the app has closed', async () => {
    server = await startAccountsServer();
    await registerConfirmed(server, 'alice');
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = server.app.server.address() as { port: number };
    const answer = await fetch(`http://127.0.0.1:${port}/api/v1/auth/forgot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ email: emailOf('alice') }),
    });
    expect(answer.status).toBe(200);
    await server.app.close();
    expect(resetMails()).toHaveLength(1);
  });
});
