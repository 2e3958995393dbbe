import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureBuilt,
  jsonLines,
  makeDataDir,
  makeTempDir,
  removeTempDirs,
  runCli,
  writeSecret,
} from '../cli/helpers.js';

beforeAll(() => ensureBuilt(), 180_000);
afterEach(removeTempDirs);

const PASSWORD = 'smtp-secret-4b1d-e2e';

function smtpArgs(dataDir: string, passFile?: string): string[] {
  return [
    'settings',
    'smtp',
    '--data',
    dataDir,
    '--host',
    'smtp.example.test',
    '--port',
    '587',
    '--security',
    'starttls',
    '--from',
    'sync@example.test',
    '--public-url',
    'https://sync.example.test/',
    ...(passFile ? ['--user', 'mailer', '--pass-file', passFile] : []),
  ];
}

/** Every text a database file holds in its tables, for grepping. */
function dumpTables(dataDir: string): string {
  const db = new Database(join(dataDir, 'server.db'), { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[];
    return tables
      .map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t.name}"`).all()))
      .join('\n');
  } finally {
    db.close();
  }
}

describe('settings smtp / show / test-mail (built binary)', () => {
  it('stores the settings as an event, masks the password everywhere and keeps the key 0600', async () => {
    const dataDir = makeDataDir();
    const passFile = writeSecret(makeTempDir(), 'smtp-pass', PASSWORD);

    const before = await runCli(['settings', 'show', '--data', dataDir, '--json']);
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({
      configured: false,
      host: '',
      password: null,
    });

    const changed = await runCli(smtpArgs(dataDir, passFile));
    expect(changed.stderr).toBe('');
    expect(changed.stdout).toBe('SMTP settings changed\n');
    const again = await runCli([...smtpArgs(dataDir, passFile), '--json']);
    expect(again.stdout).toBe('{"changed":false}\n');

    const shown = await runCli(['settings', 'show', '--data', dataDir, '--json']);
    expect(JSON.parse(shown.stdout)).toEqual({
      configured: true,
      host: 'smtp.example.test',
      port: 587,
      security: 'starttls',
      user: 'mailer',
      password: '********',
      from: 'sync@example.test',
      public_url: 'https://sync.example.test',
      outbox: { waiting: 0, failing: 0 },
    });
    const table = await runCli(['settings', 'show', '--data', dataDir]);
    expect(table.stdout).toMatch(/^smtp password +\*{8}$/m);
    expect(table.stdout).toMatch(/^smtp host +smtp\.example\.test$/m);

    const audit = await runCli(['audit', '--data', dataDir, '--json']);
    const [event] = jsonLines(audit.stdout);
    expect(event).toMatchObject({
      type: 'SmtpSettingsChanged',
      stream: 'server',
      data: {
        user: 'mailer',
        passwordCipher: '<redacted>',
        publicUrl: 'https://sync.example.test',
      },
      meta: { actor: 'cli' },
    });
    const db = new Database(join(dataDir, 'server.db'), { readonly: true });
    const stored = db
      .prepare("SELECT data FROM events WHERE type = 'SmtpSettingsChanged'")
      .get() as { data: string };
    db.close();
    const cipher = (JSON.parse(stored.data) as { passwordCipher: string }).passwordCipher;
    expect(cipher).toMatch(/^v1\./);

    for (const output of [shown.stdout, table.stdout, audit.stdout, audit.stderr, changed.stdout]) {
      expect(output).not.toContain(PASSWORD);
      expect(output).not.toContain(cipher);
    }
    expect(dumpTables(dataDir)).not.toContain(PASSWORD);
    expect(dumpTables(dataDir)).not.toContain(Buffer.from(PASSWORD).toString('base64'));
    expect(statSync(join(dataDir, 'secret.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dataDir, 'secret.key'))).toHaveLength(32);
  });

  it('refuses invalid values with a message and exit code 1, changing nothing', async () => {
    const dataDir = makeDataDir();
    const cases: [string[], RegExp][] = [
      [['--from', 'sync@example.test\r\nBcc: evil@example.test'], /from: must be a bare address/],
      [['--from', 'Verstak <sync@example.test>'], /from: must be a bare address/],
      [['--public-url', 'ftp://sync.example.test'], /publicUrl: must be an absolute http\(s\) URL/],
      [['--port', '0'], /--port must be a port number 1-65535/],
      [['--security', 'ssl'], /Allowed choices are none, starttls, tls/],
      [['--pass-file', '/nonexistent'], /--pass-file needs --user/],
    ];
    for (const [override, message] of cases) {
      const args = smtpArgs(dataDir);
      for (let i = 0; i < override.length; i += 2) {
        const at = args.indexOf(override[i]!);
        if (at >= 0) args[at + 1] = override[i + 1]!;
        else args.push(override[i]!, override[i + 1]!);
      }
      const result = await runCli(args);
      expect(result.code, override.join(' ')).toBe(1);
      expect(result.stderr).toMatch(message);
    }
    const audit = await runCli(['audit', '--data', dataDir, '--json']);
    expect(audit.stdout).toBe('');
  });

  it('queues a test mail only once SMTP is configured', async () => {
    const dataDir = makeDataDir();
    const refused = await runCli([
      'settings',
      'test-mail',
      '--data',
      dataDir,
      '--to',
      'ops@example.test',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('cannot queue a test mail: SMTP is not configured');

    await runCli(smtpArgs(dataDir));
    const queued = await runCli(['settings', 'test-mail', '--data', dataDir, '--json']);
    expect(queued.code).toBe(0);
    expect(JSON.parse(queued.stdout)).toEqual({ mail_id: 1, to: 'sync@example.test' });
    const shown = await runCli(['settings', 'show', '--data', dataDir, '--json']);
    expect(JSON.parse(shown.stdout).outbox).toEqual({ waiting: 1, failing: 0 });
    const audit = jsonLines((await runCli(['audit', '--data', dataDir, '--json'])).stdout);
    expect(audit.map((e) => e.type)).toEqual(['SmtpSettingsChanged', 'SmtpTestRequested']);
  });
});
