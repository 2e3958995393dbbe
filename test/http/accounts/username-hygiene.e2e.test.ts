import { afterEach, describe, expect, it } from 'vitest';
import { createAdminUserService } from '../../../src/commands/admin-user-service.js';
import { inWriteTransaction } from '../../../src/log/database.js';
import { CATALOGUE } from '../../../src/log/index.js';
import { replayProjections } from '../../../src/projections/rebuild.js';
import { findUserByLogin } from '../../../src/projections/users.js';
import type { TestServer } from '../../helpers/sync-app.js';
import { WebClient } from '../../web/browser-client.js';
import { PASSWORD, PUBLIC_URL, post, startAccountsServer } from './helpers.js';

let server: TestServer;
afterEach(async () => server.close());

// Each attempt from its own address with its own e-mail, so that the register budgets
// (per client and per address) never answer instead of the rule under test.
let peer = 0;
const registerAs = (username: string, email = `u${++peer}@example.test`) =>
  post(
    server,
    '/api/v1/auth/register',
    { username, email, password: PASSWORD },
    { remoteAddress: `10.9.${Math.floor(peer / 200)}.${peer % 200}` },
  );

const usernames = () =>
  server.runtime.db.prepare('SELECT username FROM users ORDER BY username').pluck().all();

describe('control characters at registration', () => {
  it('the API refuses them in a username or an e-mail with 400 invalid_request', async () => {
    server = await startAccountsServer();
    const refused: [string, string, string][] = [
      [
        'ev\u001bil',
        'a@example.test',
        'username must not contain control characters or direction marks',
      ],
      [
        'ev\u0007il',
        'b@example.test',
        'username must not contain control characters or direction marks',
      ],
      [
        'ev\u202eil',
        'c@example.test',
        'username must not contain control characters or direction marks',
      ],
      [
        'ev\r\nil',
        'd@example.test',
        'username must not contain control characters or direction marks',
      ],
      [
        'eve',
        'eve\u001bc@example.test',
        'email must not contain control characters or direction marks',
      ],
      [
        'eve',
        'eve\u0007@example.test',
        'email must not contain control characters or direction marks',
      ],
      [
        'eve',
        'eve\u202e@example.test',
        'email must not contain control characters or direction marks',
      ],
      [
        'eve',
        'eve\u0085@example.test',
        'email must not contain control characters or direction marks',
      ],
      [
        'eve',
        'eve\u2066@example.test',
        'email must not contain control characters or direction marks',
      ],
      ['eve', 'eve@exa\r\nmple.test', 'invalid email'],
    ];
    for (const [username, email, error] of refused) {
      const res = await registerAs(username, email);
      expect(res.statusCode, JSON.stringify(username + email)).toBe(400);
      expect(res.json()).toEqual({ error, code: 'invalid_request' });
    }
    expect(usernames()).toEqual([]);
  });

  it('the web form re-renders with its own message, in English and in Russian', async () => {
    server = await startAccountsServer();
    for (const [lang, message] of [
      ['en', 'must not contain control characters, line breaks or text-direction marks'],
      ['ru', 'не должны содержать управляющих символов'],
    ] as const) {
      const client = new WebClient(server.app, { origin: PUBLIC_URL, 'accept-language': lang });
      for (const fields of [
        { username: 'eve\u202e', email: `eve-${lang}@example.test` },
        { username: `eve${lang}`, email: `eve\u001b[2J-${lang}@example.test` },
      ]) {
        const res = await client.submit('/register', '/register', {
          ...fields,
          password: PASSWORD,
        });
        expect(res.statusCode).toBe(200);
        expect(res.body).toContain(message);
      }
    }
    expect(usernames()).toEqual([]);
  });
});

describe('look-alike usernames', () => {
  it('refuses full-width, other-case, Cyrillic and Greek spellings of a taken name', async () => {
    server = await startAccountsServer();
    expect((await registerAs('alice')).statusCode).toBe(200);
    for (const name of [
      'ａｌｉｃｅ', // full-width: NFKC makes it alice
      'ALICE',
      '\u0430lice', // Cyrillic а
      'alic\u0435', // Cyrillic е
      '\u0410LICE', // Cyrillic А
      '\u0391lice', // Greek Α
    ]) {
      const res = await registerAs(name);
      expect(res.statusCode, name).toBe(409);
      expect(res.json().code).toBe('already_exists');
    }
    expect(usernames()).toEqual(['alice']);
  });

  it('refuses the Latin name beside an earlier Cyrillic look-alike too', async () => {
    server = await startAccountsServer();
    expect((await registerAs('\u0441\u043e\u0440')).statusCode).toBe(200); // Cyrillic сор
    expect((await registerAs('cop')).statusCode).toBe(409);
    expect((await registerAs('COP')).statusCode).toBe(409);
  });

  it('accepts names written in Cyrillic, and stores a full-width name in plain letters', async () => {
    server = await startAccountsServer();
    for (const name of ['иван', 'мария', 'Пётр', 'ｂｏｂ']) {
      expect((await registerAs(name)).statusCode, name).toBe(200);
    }
    expect(usernames()).toEqual(['bob', 'иван', 'мария', 'Пётр'].sort());
    expect((await registerAs('ИВАН')).statusCode).toBe(409);
  });

  it('lets a look-alike login reach no account, and a full-width one reach its own', async () => {
    server = await startAccountsServer();
    const userId = await server.runtime.users.register(
      { username: 'alice', email: 'alice@example.test', password: PASSWORD, confirmed: true },
      'operator',
      { actor: 'test' },
    );
    const login = (username: string) =>
      post(server, '/api/v1/auth/login', { username, password: PASSWORD });
    expect((await login('\u0430lice')).statusCode).toBe(401);
    const fullWidth = await login('ＡＬＩＣＥ');
    expect(fullWidth.statusCode, fullWidth.body).toBe(200);
    expect(fullWidth.json().user_id).toBe(userId);
  });

  it('refuses renaming an account to a look-alike of another', async () => {
    server = await startAccountsServer();
    const { users } = server.runtime;
    const meta = { actor: 'test' };
    const register = (username: string) =>
      users.register(
        { username, email: `${username}@example.test`, password: PASSWORD, confirmed: true },
        'operator',
        meta,
      );
    await register('alice');
    const bob = await register('bob');
    const admin = createAdminUserService(server.runtime);
    expect(() =>
      admin.update(bob, { username: 'alic\u0435', email: 'bob@example.test' }, meta),
    ).toThrow(expect.objectContaining({ status: 409, code: 'already_exists' }));
    // Its own skeleton never counts against an account.
    expect(admin.update(bob, { username: 'BOB', email: 'bob@example.test' }, meta)).toBe(true);
  });
});

describe('a log written before the rule', () => {
  it('replays with both look-alike accounts, each reached by its own name', async () => {
    server = await startAccountsServer();
    const { db, store, projector } = server.runtime;
    const registered = (userId: string, username: string) => ({
      stream: `user/${userId}`,
      events: [
        {
          type: 'UserRegistered' as const,
          data: {
            userId,
            username,
            email: `${userId}@example.test`,
            passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
            confirmed: true,
            locale: 'en',
            registeredBy: 'self' as const,
          },
        },
      ],
    });
    // What the code before this rule accepted and stored as typed.
    inWriteTransaction(db, () =>
      projector.apply(
        store.append(
          [
            registered('u1', 'alice'),
            registered('u2', '\u0430lice'),
            registered('u3', 'ａｌｉｃｅ'),
          ],
          { actor: 'test' },
          new Date('2026-01-01T00:00:00Z'),
        ),
      ),
    );
    const rows = () =>
      db.prepare('SELECT id, username_key, username_skeleton FROM users ORDER BY id').all();
    const before = rows();
    expect(before).toEqual([
      { id: 'u1', username_key: 'alice', username_skeleton: 'alice' },
      { id: 'u2', username_key: '\u0430lice', username_skeleton: 'alice' },
      { id: 'u3', username_key: 'ａｌｉｃｅ', username_skeleton: 'alice' },
    ]);

    const report = replayProjections(
      { db, store, projector },
      { scratchDir: server.dir, check: true, catalogue: CATALOGUE },
    );
    expect(report.diffs).toEqual([]);
    // And swapped in: the look-alike index is built after the load, and must not refuse.
    replayProjections(
      { db, store, projector },
      { scratchDir: server.dir, check: false, catalogue: CATALOGUE },
    );
    expect(rows()).toEqual(before);
    // Each name, typed as stored, finds its own account; none by skeleton.
    expect(findUserByLogin(db, 'alice')?.id).toBe('u1');
    expect(findUserByLogin(db, '\u0430lice')?.id).toBe('u2');
    expect(findUserByLogin(db, 'ａｌｉｃｅ')?.id).toBe('u3');
    expect(findUserByLogin(db, 'ALICE')?.id).toBe('u1');
    expect(findUserByLogin(db, 'alic\u0435')).toBeUndefined();
    // And nobody new can take a fourth.
    expect((await registerAs('ΑLICE')).statusCode).toBe(409);
  });
});
