import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../../../src/clock.js';
import { CATALOGUE } from '../../../src/log/index.js';
import { replayProjections } from '../../../src/projections/rebuild.js';
import type { TestServer } from '../../helpers/sync-app.js';
import {
  MINUTE,
  PASSWORD,
  emailOf,
  lastMail,
  outbox,
  post,
  register,
  registerConfirmed,
  sessionOf,
  startAccountsServer,
  tokenOf,
} from './helpers.js';

let server: TestServer;
afterEach(async () => server.close());

describe('account projections and replay', () => {
  it('rebuild to the same rows and send no mail when the log is replayed', async () => {
    const clock = createManualClock('2026-03-01T10:00:00Z');
    server = await startAccountsServer({ clock });
    await registerConfirmed(server, 'alice');
    await register(server, 'bob');
    await register(server, 'bob2', { email: emailOf('bob') });
    await sessionOf(server, 'alice');
    clock.advance(MINUTE);
    await sessionOf(server, 'alice');
    for (let i = 0; i < 4; i++)
      await post(server, '/api/v1/auth/forgot', { email: emailOf('alice') });
    await post(server, '/api/v1/auth/forgot', { email: 'nobody@example.test' });
    const token = tokenOf(lastMail(server, emailOf('alice'), 'reset-password'));
    await post(server, '/api/v1/auth/reset', { token, new_password: 'new password 1' });
    await post(server, '/api/v1/auth/login', { username: 'alice', password: PASSWORD });
    const { user_id } = await sessionOf(server, 'alice', 'new password 1');
    server.runtime.users.setBlocked(user_id, true, { actor: 'test' });

    const tables = ['users', 'email_tokens', 'sessions'];
    const snapshot = () =>
      Object.fromEntries(
        tables.map((t) => [t, server.runtime.db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()]),
      );
    const before = snapshot();
    expect(before.sessions).toHaveLength(3);
    expect(before.email_tokens).toHaveLength(6);
    const mails = outbox(server);

    const live = {
      db: server.runtime.db,
      store: server.runtime.store,
      projector: server.runtime.projector,
    };
    const checked = replayProjections(live, {
      scratchDir: server.dir,
      check: true,
      catalogue: CATALOGUE,
    });
    expect(checked.diffs).toEqual([]);
    replayProjections(live, { scratchDir: server.dir, check: false, catalogue: CATALOGUE });
    expect(snapshot()).toEqual(before);
    expect(outbox(server)).toEqual(mails);
  });
});
