import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureBuilt,
  jsonLines,
  makeTempDir,
  removeTempDirs,
  runCli,
  startServer,
  stopServers,
  writeSecret,
} from '../cli/helpers.js';
import { closeSmtpServers, startSmtpServer } from '../helpers/smtp.js';

beforeAll(() => ensureBuilt(), 180_000);
afterEach(async () => {
  await stopServers();
  await closeSmtpServers();
  removeTempDirs();
});

const PASSWORD = 'e2e-smtp-pass-91c4';

const outboxRows = (dataDir: string) => {
  const db = new Database(join(dataDir, 'server.db'), { readonly: true });
  try {
    return db.prepare('SELECT id, recipient, template, attempts, sent_at FROM mail_outbox').all();
  } finally {
    db.close();
  }
};

describe('a running server delivering mail', () => {
  it('applies --smtp-* flags at start, sends queued mail, and follows settings changed by the CLI', async () => {
    const withAuth = await startSmtpServer({ auth: { user: 'mailer', pass: PASSWORD } });
    const second = await startSmtpServer();
    const dir = makeTempDir();
    const dataDir = join(dir, 'data');
    const server = await startServer(dataDir, writeSecret(dir, 'admin-pass', 'admin password 1'), [
      '--smtp-host',
      '127.0.0.1',
      '--smtp-port',
      String(withAuth.port),
      '--smtp-security',
      'none',
      '--smtp-user',
      'mailer',
      '--smtp-pass-file',
      writeSecret(dir, 'smtp-pass', PASSWORD),
      '--smtp-from',
      'sync@example.test',
      '--public-url',
      'https://sync.example.test',
    ]);

    // Queued by another process: the server's timer finds it.
    const queued = await runCli([
      'settings',
      'test-mail',
      '--data',
      dataDir,
      '--to',
      'ops@example.test',
    ]);
    expect(queued.code).toBe(0);
    const [first] = await withAuth.waitForMessages(1, 20_000);
    expect(first!.to).toEqual(['ops@example.test']);
    expect(first!.user).toBe('mailer');
    expect(first!.subject).toBe('Verstak Sync — test message');

    // Changed while the server runs: the next delivery uses the new settings, no restart.
    const changed = await runCli([
      'settings',
      'smtp',
      '--data',
      dataDir,
      '--host',
      '127.0.0.1',
      '--port',
      String(second.port),
      '--security',
      'none',
      '--from',
      'other@example.test',
      '--public-url',
      'https://sync.example.test',
    ]);
    expect(changed.stdout).toBe('SMTP settings changed\n');
    await runCli([
      'settings',
      'test-mail',
      '--data',
      dataDir,
      '--to',
      'ops@example.test',
      '--locale',
      'ru',
    ]);
    const [moved] = await second.waitForMessages(1, 20_000);
    expect(moved!.from).toBe('other@example.test');
    expect(moved!.subject).toBe('Verstak Sync — тестовое письмо');
    expect(moved!.user).toBeUndefined();
    expect(withAuth.messages).toHaveLength(1);

    expect(await server.stop()).toBe(0);
    const audit = await runCli(['audit', '--data', dataDir, '--json']);
    const events = jsonLines(audit.stdout);
    expect(events.map((e) => [e.type, (e.meta as { actor: string }).actor])).toEqual([
      ['SmtpSettingsChanged', 'config'],
      ['SmtpTestRequested', 'cli'],
      ['SmtpSettingsChanged', 'cli'],
      ['SmtpTestRequested', 'cli'],
    ]);
    for (const text of [server.output(), audit.stdout]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(Buffer.from(PASSWORD).toString('base64'));
    }
    expect(server.output()).toContain('"msg":"mail sent"');

    // Replay rebuilds projections only: no outbox row appears, none is unsent again.
    const before = outboxRows(dataDir);
    expect(before).toHaveLength(2);
    const replay = await runCli(['replay', '--data', dataDir]);
    expect(replay.code).toBe(0);
    expect(outboxRows(dataDir)).toEqual(before);
    const shown = JSON.parse(
      (await runCli(['settings', 'show', '--data', dataDir, '--json'])).stdout,
    );
    expect(shown).toMatchObject({ port: second.port, from: 'other@example.test', password: null });
  });

  it('starting again with the same flags appends nothing', async () => {
    const smtp = await startSmtpServer();
    const dir = makeTempDir();
    const dataDir = join(dir, 'data');
    const admin = writeSecret(dir, 'admin-pass', 'admin password 1');
    const flags = [
      '--smtp-host',
      '127.0.0.1',
      '--smtp-port',
      String(smtp.port),
      '--smtp-security',
      'none',
    ];
    const withFrom = [
      ...flags,
      '--smtp-from',
      'sync@example.test',
      '--public-url',
      'http://127.0.0.1:1/',
    ];
    expect(await (await startServer(dataDir, admin, withFrom)).stop()).toBe(0);
    expect(await (await startServer(dataDir, admin, withFrom)).stop()).toBe(0);
    // Flags name only some fields: the others keep what is stored.
    expect(await (await startServer(dataDir, admin, ['--smtp-port', '2525'])).stop()).toBe(0);
    const events = jsonLines((await runCli(['audit', '--data', dataDir, '--json'])).stdout);
    expect(events.map((e) => (e.data as { port: number }).port)).toEqual([smtp.port, 2525]);
    expect(events[1]!.data).toMatchObject({
      from: 'sync@example.test',
      publicUrl: 'http://127.0.0.1:1',
    });
  });

  it('without a public URL, links point at the address it listens on, and it warns', async () => {
    const smtp = await startSmtpServer();
    const dir = makeTempDir();
    const dataDir = join(dir, 'data');
    const server = await startServer(dataDir, writeSecret(dir, 'admin-pass', 'admin password 1'), [
      '--smtp-host',
      '127.0.0.1',
      '--smtp-port',
      String(smtp.port),
      '--smtp-security',
      'none',
      '--smtp-from',
      'sync@example.test',
    ]);
    const added = await runCli([
      'user',
      'add',
      '--data',
      dataDir,
      '--username',
      'carol',
      '--email',
      'carol@example.test',
      '--password-file',
      writeSecret(dir, 'pw', 'carol password 1'),
      '--confirmed',
    ]);
    expect(added.code, added.stderr).toBe(0);
    const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/auth/forgot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'carol@example.test' }),
    });
    expect(res.status).toBe(200);
    const [mail] = await smtp.waitForMessages(1, 20_000);
    expect(mail!.text).toContain(`http://127.0.0.1:${server.port}/`);
    expect(mail!.text).not.toContain(':47732');
    const warning = jsonLines(server.output()).find((l) =>
      String(l.msg).startsWith('no public URL set'),
    );
    expect(warning).toMatchObject({ level: 40, mailLinks: `http://127.0.0.1:${server.port}` });
  });

  it('refuses to start with invalid mail flags, naming the field', async () => {
    const dataDir = join(makeTempDir(), 'data');
    const result = await runCli([
      'serve',
      '--data',
      dataDir,
      '--port',
      '0',
      '--smtp-host',
      'smtp.example.test',
      '--smtp-from',
      'Sync <sync@example.test>',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('invalid mail settings: from: must be a bare address');
  });
});
