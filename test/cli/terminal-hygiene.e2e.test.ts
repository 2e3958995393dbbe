import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inWriteTransaction } from '../../src/log/database.js';
import { openRuntime } from '../../src/runtime.js';
import { ensureBuilt, jsonLines, makeDataDir, removeTempDirs, runCli } from './helpers.js';

// What an anonymous client could store before the input rules: a login typed into the
// sign-in form (it names the stream and stays in LoginFailed) and a registrant's e-mail,
// each carrying ESC sequences (set the window title, clear the screen), BEL, CR/LF (a fake
// line) and U+202E (shows what follows reversed).
const LOGIN = 'x\u001b]0;owned\u0007\u001b[2J\r\n7      fake line\u202egnp.exe';
const EMAIL = 'eve\u001b[31m\u0007\r\n\u202e@example.test';
// Anything here in human output acts on the terminal instead of showing.
const UNSAFE_CLASS =
  '[\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]';
const UNSAFE = new RegExp(UNSAFE_CLASS);

let dataDir: string;

beforeAll(() => {
  ensureBuilt();
  dataDir = makeDataDir();
  // Appended through the event store, as the code of the time did.
  const runtime = openRuntime({ dataDir });
  try {
    inWriteTransaction(runtime.db, () =>
      runtime.projector.apply(
        runtime.store.append(
          [
            {
              stream: 'user/u-eve',
              events: [
                {
                  type: 'UserRegistered',
                  data: {
                    userId: 'u-eve',
                    username: 'eve',
                    email: EMAIL,
                    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
                    confirmed: true,
                    locale: 'en',
                    registeredBy: 'self',
                  },
                },
              ],
            },
            {
              stream: `login/${LOGIN.toLowerCase()}`,
              events: [{ type: 'LoginFailed', data: { login: LOGIN, reason: 'unknown_login' } }],
            },
          ],
          { actor: 'anonymous' },
          new Date('2026-05-01T10:00:00Z'),
        ),
      ),
    );
  } finally {
    runtime.close();
  }
}, 180_000);

afterAll(() => removeTempDirs());

async function cli(...args: string[]) {
  const result = await runCli([...args, '--data', dataDir]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

describe('operator output of stored text', () => {
  it('audit shows logins and addresses escaped, one line per event', async () => {
    const out = await cli('audit');
    expect(out).not.toMatch(UNSAFE);
    const lines = out.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toContain(
      'login/x\\x1b]0;owned\\x07\\x1b[2j\\r\\n7      fake line\\u202egnp.exe',
    );
    expect(lines[2]).toContain('\\u202egnp.exe');
    expect(lines[1]).toContain('eve\\u001b[31m\\u0007\\r\\n\\u202e@example.test');
  });

  it('audit --json keeps every value exact and still writes nothing a terminal obeys', async () => {
    const out = await cli('audit', '--json');
    expect(out).not.toMatch(UNSAFE);
    const [registered, failed] = jsonLines(out);
    expect((registered!.data as { email: string }).email).toBe(EMAIL);
    expect(failed!.stream).toBe(`login/${LOGIN.toLowerCase()}`);
    expect((failed!.data as { login: string }).login).toBe(LOGIN);
  });

  it('user list shows the e-mail escaped, and --json exact', async () => {
    const out = await cli('user', 'list');
    expect(out).not.toMatch(UNSAFE);
    const lines = out.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('eve\\x1b[31m\\x07\\r\\n\\u202e@example.test');

    const json = await cli('user', 'list', '--json');
    expect(json).not.toMatch(UNSAFE);
    expect(jsonLines(json)).toEqual([expect.objectContaining({ username: 'eve', email: EMAIL })]);
  });

  it('user block names the user escaped', async () => {
    const result = await runCli(['user', 'block', '--data', dataDir, '--username', 'eve']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('blocked user eve (id u-eve)\n');
    const missing = await runCli(['user', 'block', '--data', dataDir, '--username', 'a\u001b[2Jb']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('error: no user named a\\x1b[2Jb\n');
  });
});
