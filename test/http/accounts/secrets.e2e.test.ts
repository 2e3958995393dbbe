import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { CATALOGUE, sha256Hex, toAuditEntry } from '../../../src/log/index.js';
import { createLogger } from '../../../src/logger.js';
import type { TestServer } from '../../helpers/sync-app.js';
import {
  PASSWORD,
  emailOf,
  lastMail,
  outbox,
  pairWith,
  post,
  send,
  startAccountsServer,
  tokenOf,
} from './helpers.js';

let server: TestServer;
afterEach(async () => server.close());

describe('secrets hygiene (RELIABILITY.md §2.13)', () => {
  it('keeps every password, token and session id out of the log, the app logs and error bodies', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'trace',
      destination: { write: (line: string) => void lines.push(line) },
    });
    server = await startAccountsServer({ logger });
    const secrets = new Set<string>();
    const answers: LightMyRequestResponse[] = [];
    const keep = (res: LightMyRequestResponse) => {
      answers.push(res);
      return res;
    };
    const NEW_PASSWORD = 'the new password 42';
    const WRONG = 'a wrong password 7';
    [PASSWORD, NEW_PASSWORD, WRONG].forEach((s) => secrets.add(s));

    keep(
      await post(server, '/api/v1/auth/register', {
        username: 'alice',
        email: emailOf('alice'),
        password: PASSWORD,
      }),
    );
    const confirmToken = tokenOf(lastMail(server, emailOf('alice'), 'confirm-email'));
    secrets.add(confirmToken);
    keep(await send(server, 'GET', `/api/v1/auth/confirm?token=${confirmToken}`));
    keep(await post(server, '/api/v1/auth/login', { username: 'alice', password: PASSWORD }));
    keep(await post(server, '/api/v1/auth/confirm', { token: confirmToken }));
    keep(await post(server, '/api/v1/auth/confirm', { token: confirmToken }));
    keep(await post(server, '/api/v1/auth/login', { username: 'alice', password: WRONG }));
    const session = keep(
      await post(server, '/api/v1/auth/login', { username: 'alice', password: PASSWORD }),
    ).json();
    secrets.add(session.token);
    const device = keep(await pairWith(server, 'alice', PASSWORD)).json();
    secrets.add(device.device_token);
    keep(await send(server, 'GET', `/api/client/me?api_key=${device.device_token}`));
    keep(
      await send(server, 'GET', '/api/v1/user/devices', undefined, {
        headers: { authorization: `Bearer ${device.device_token}` },
      }),
    );
    keep(
      await send(server, 'GET', '/api/v1/user/devices', undefined, {
        headers: { cookie: `user_session=${session.token}` },
      }),
    );
    keep(
      await post(
        server,
        `/api/v1/user/devices/${device.device_id}/revoke`,
        { password: WRONG },
        { headers: { authorization: `Bearer ${session.token}` } },
      ),
    );

    keep(await post(server, '/api/v1/auth/forgot', { email: emailOf('alice') }));
    const resetToken = tokenOf(lastMail(server, emailOf('alice'), 'reset-password'));
    secrets.add(resetToken);
    keep(await send(server, 'GET', `/reset?token=${resetToken}`));
    keep(
      await post(server, '/api/v1/auth/reset', { token: resetToken, new_password: NEW_PASSWORD }),
    );
    keep(
      await post(server, '/api/v1/auth/reset', { token: resetToken, new_password: NEW_PASSWORD }),
    );
    keep(
      await post(server, '/api/v1/auth/register', {
        username: 'bob',
        email: emailOf('alice'),
        password: NEW_PASSWORD,
      }),
    );
    const second = keep(
      await post(server, '/api/v1/auth/login', { username: 'alice', password: NEW_PASSWORD }),
    ).json();
    secrets.add(second.token);
    keep(
      await post(
        server,
        `/api/v1/user/devices/${device.device_id}/revoke`,
        { password: NEW_PASSWORD },
        { headers: { authorization: `Bearer ${second.token}` } },
      ),
    );
    for (const mail of outbox(server))
      if (mail.params.link?.includes('token=')) secrets.add(tokenOf(mail));

    expect(secrets.size).toBe(8);
    const stored = server.runtime.db
      .prepare('SELECT data, meta FROM events')
      .all()
      .map((r) => JSON.stringify(r))
      .join('\n');
    const logs = lines.join('');
    const errorBodies = answers
      .filter((a) => a.statusCode >= 400)
      .map((a) => a.body)
      .join('\n');
    expect(answers.filter((a) => a.statusCode >= 400).length).toBeGreaterThanOrEqual(5);
    for (const secret of secrets) {
      expect(stored.includes(secret), 'events table').toBe(false);
      expect(logs.includes(secret), 'logs').toBe(false);
      expect(errorBodies.includes(secret), 'error bodies').toBe(false);
    }
    // Operator tools show even the digests as <redacted>; the raw rows do hold them.
    const audit = server.runtime.store
      .readRows(0, 10_000)
      .map((row) => JSON.stringify(toAuditEntry(row, CATALOGUE)))
      .join('\n');
    for (const token of [
      confirmToken,
      resetToken,
      session.token,
      second.token,
      device.device_token,
    ]) {
      expect(stored).toContain(sha256Hex(token));
      expect(audit).not.toContain(sha256Hex(token));
    }
    // The log did see these requests, with their secret query parameters masked.
    expect(logs).toContain('/api/v1/auth/confirm?token=<redacted>');
    expect(logs).toContain('/reset?token=<redacted>');
    expect(logs).toContain('/api/client/me?api_key=<redacted>');
  });
});
