import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import { sha256Hex } from '../../src/log/index.js';
import { testHasher } from '../helpers/runtime.js';
import { addUser, pair, pushAccepted, textOp, type TestServer } from '../helpers/sync-app.js';
import { ADMIN, ADMIN_PASSWORD, adminBrowser, logHead, startAdminServer } from './admin-rig.js';
import { WebClient } from './browser-client.js';

// /admin/audit (CONTRACT.md §9): the log as readable lines, filtered through the audit
// index, paged by seq, with no secret anywhere in the page.

const seqsOf = (html: string) =>
  [...html.matchAll(/<tr id="event-(\d+)"/g)].map((m) => Number(m[1]));
const linesOf = (html: string) =>
  [...html.matchAll(/<td class="audit-line"[^>]*>([^<]*)/g)].map((m) => m[1]!.trim());
const olderOf = (html: string) =>
  /<a href="([^"]*)" rel="next">/.exec(html)?.[1]?.replace(/&#38;|&amp;/g, '&');

/** A fast hasher, the admin's hash in its format. */
const startServer = (clock = createManualClock('2026-12-01T10:00:00.000Z')) =>
  startAdminServer({
    clock,
    hasher: testHasher,
    settings: { admin: [{ username: ADMIN, password_hash: `test$${ADMIN_PASSWORD}` }] },
  });

/**
 * Dec 1: alice and bob registered, alice pairs her laptop (and pushes two ops).
 * Dec 2: bob pairs his desktop, an admin revokes alice's laptop, bob is blocked.
 */
async function someHistory() {
  const clock = createManualClock('2026-12-01T10:00:00.000Z');
  const server = await startServer(clock);
  const alice = await addUser(server, 'alice');
  const bob = await addUser(server, 'bob');
  const laptop = await pair(server, 'alice', 'vault-a', 'laptop');
  await pushAccepted(server, laptop, [textOp('op-1', 'a.md', 'secret text one')]);
  await pushAccepted(server, laptop, [textOp('op-2', 'b.md', 'secret text two')]);
  clock.set('2026-12-02T09:00:00.000Z');
  const desktop = await pair(server, 'bob', 'vault-b', 'desktop');
  server.runtime.devices.revoke(laptop.deviceId, alice, 'admin', { actor: `admin:${ADMIN}` });
  server.runtime.users.setBlocked(bob, true, { actor: `admin:${ADMIN}`, ip: '10.1.2.3' });
  clock.set('2026-12-03T09:00:00.000Z');
  return { server, clock, alice, bob, laptop, desktop };
}

/** Seqs of the events the default view holds (all but the sync traffic), newest first. */
const auditSeqs = (server: TestServer, where = '1') =>
  (
    server.runtime.db
      .prepare(
        `SELECT seq FROM events WHERE type NOT IN ('OperationPushed', 'PushAnswered') AND ${where}
         ORDER BY seq DESC`,
      )
      .all() as { seq: number }[]
  ).map((r) => r.seq);

describe('the audit page', () => {
  it('lists a pairing and a revocation as readable lines in English and Russian', async () => {
    const { server } = await someHistory();
    const en = await adminBrowser(server);
    const page = await en.get('/admin/audit');
    expect(page.statusCode).toBe(200);
    expect(page.headers['cache-control']).toContain('no-store');
    expect(page.body).toContain('<a href="/admin/audit" aria-current="page">');
    const lines = linesOf(page.body);
    expect(lines).toContain('alice paired the device laptop with the vault vault-a');
    expect(lines).toContain('An admin revoked the device laptop of alice');
    expect(lines).toContain('bob was blocked');
    expect(page.body).toContain('from 10.1.2.3');
    expect(page.body).toMatch(/<span class="badge badge-warn">Warning<\/span>/);
    expect(page.body).toContain('datetime="2026-12-02T09:00:00.000Z"');
    // Sync traffic is left out unless asked for.
    expect(page.body).not.toContain('pushed an operation');

    const ru = await adminBrowser(server, { 'accept-language': 'ru' });
    const russian = linesOf((await ru.get('/admin/audit')).body);
    expect(russian).toContain('Устройство laptop подключено к хранилищу vault-a (alice)');
    expect(russian).toContain('Администратор отключил устройство laptop (alice)');
  });

  it('narrows by each filter, through the index', async () => {
    const { server, alice, bob, laptop, desktop } = await someHistory();
    const client = await adminBrowser(server);
    const seqs = async (query: string) => seqsOf((await client.get(`/admin/audit?${query}`)).body);
    const head = logHead(server);
    const upTo = `seq <= ${head}`;

    expect(await seqs('event=DevicePaired')).toEqual(auditSeqs(server, `type = 'DevicePaired'`));
    const ofAlice = auditSeqs(
      server,
      `(stream = 'user/${alice}' OR json_extract(data, '$.userId') = '${alice}') AND ${upTo}`,
    );
    expect(await seqs('user=alice')).toEqual(ofAlice);
    expect(await seqs(`user=${alice}`)).toEqual(ofAlice);
    expect(await seqs('user=bob')).not.toContain(ofAlice[0]);
    const ofLaptop = auditSeqs(
      server,
      `stream = 'device/${laptop.deviceId}' OR json_extract(data, '$.deviceId') = '${laptop.deviceId}'`,
    );
    expect(ofLaptop.length).toBe(2);
    expect(await seqs('device=laptop')).toEqual(ofLaptop);
    expect(await seqs(`device=${desktop.deviceId}`)).toEqual(
      auditSeqs(server, `stream = 'device/${desktop.deviceId}'`),
    );
    expect(await seqs('severity=warning')).toEqual(
      auditSeqs(server, `type IN ('DeviceRevoked', 'UserBlocked')`),
    );
    expect(await seqs('severity=error')).toEqual([]);
    expect(await seqs('from=2026-12-02&to=2026-12-02')).toEqual(
      auditSeqs(server, `at >= '2026-12-02' AND at < '2026-12-03'`),
    );
    expect(await seqs('to=2026-12-01')).toEqual(auditSeqs(server, `at < '2026-12-02'`));
    expect(await seqs('user=bob&severity=warning')).toEqual(
      auditSeqs(server, `type = 'UserBlocked'`),
    );
    // Sync traffic only when asked for, and then by its user or device too.
    const ops = auditSeqsOf(server, 'OperationPushed');
    expect(ops.length).toBe(2);
    expect(await seqs('event=OperationPushed')).toEqual(ops);
    expect(await seqs('event=OperationPushed&user=alice')).toEqual(ops);
    expect(await seqs('event=OperationPushed&device=laptop')).toEqual(ops);
    expect(await seqs('event=OperationPushed&user=bob')).toEqual([]);
    expect(await seqs('event=OperationPushed&severity=warning')).toEqual([]);
    const opsPage = (await client.get('/admin/audit?event=OperationPushed')).body;
    expect(linesOf(opsPage)).toContain('The device laptop pushed an operation: update of a file');
    expect(opsPage).not.toContain('secret text');
    // Unknown names fall back to ids and say so; a bad date is ignored and said so.
    const nobody = (await client.get('/admin/audit?user=nobody')).body;
    expect(seqsOf(nobody)).toEqual([]);
    expect(nobody).toContain('No current account is named “nobody”');
    const badDate = (await client.get('/admin/audit?from=yesterday')).body;
    expect(badDate).toContain('A date must be written as YYYY-MM-DD');
    expect(seqsOf(badDate).length).toBeGreaterThan(0);
    expect(bob).not.toBe(alice);
  });

  it('pages by seq, newest first, visiting every event once', async () => {
    const { server } = await someHistory();
    for (let i = 0; i < 30; i++)
      server.runtime.users.setBlocked(await addUser(server, `user${i}`), true, { actor: 'cli' });
    const client = await adminBrowser(server);
    const seen: number[] = [];
    let url: string | undefined = '/admin/audit?per_page=25';
    let pages = 0;
    while (url) {
      const html = (await client.get(url)).body;
      seen.push(...seqsOf(html));
      url = olderOf(html);
      pages += 1;
      expect(pages).toBeLessThan(20);
    }
    expect(seen).toEqual(auditSeqs(server, `seq <= ${logHead(server)}`));
    expect(pages).toBe(Math.ceil(seen.length / 25));
    const warnings = (await client.get('/admin/audit?severity=warning&per_page=25')).body;
    const next = olderOf(warnings)!;
    expect(next).toMatch(/^\/admin\/audit\?severity=warning&before=\d+$/);
    const second = seqsOf((await client.get(next)).body);
    expect([...seqsOf(warnings), ...second]).toEqual(
      auditSeqs(server, `type IN ('DeviceRevoked', 'UserBlocked')`),
    );
  });

  it('shows no secret: tokens, digests, hashes, ciphers, payloads', async () => {
    const { server, laptop } = await someHistory();
    server.runtime.settings.changeSmtp(
      {
        host: 'mail.example.test',
        port: 587,
        security: 'starttls',
        user: 'mailer',
        password: 'smtp password in clear',
        from: 'server@example.test',
        publicUrl: '',
      },
      { actor: `admin:${ADMIN}` },
    );
    const user = new WebClient(server.app);
    await user.submit('/login', '/login', { username: 'alice', password: 'correct horse battery' });
    const client = await adminBrowser(server);
    const secrets = (
      server.runtime.db.prepare('SELECT data FROM events').all() as { data: string }[]
    ).flatMap((r) => {
      const data = JSON.parse(r.data) as Record<string, unknown>;
      return ['tokenHash', 'sessionHash', 'passwordHash', 'passwordCipher', 'tokenHint']
        .map((k) => data[k])
        .filter((v): v is string => typeof v === 'string' && v.length > 0);
    });
    expect(secrets.length).toBeGreaterThan(5);
    const html = [
      (await client.get('/admin/audit?per_page=100')).body,
      (await client.get('/admin/audit?event=OperationPushed')).body,
    ].join('\n');
    expect(linesOf(html)).toContain('Mail settings were changed (server mail.example.test)');
    expect(linesOf(html)).toContain('alice signed in');
    for (const secret of [
      ...secrets,
      laptop.token,
      sha256Hex(laptop.token),
      'smtp password in clear',
      'secret text',
      'test$',
    ]) {
      expect(html).not.toContain(secret);
    }
  });

  it('shows erased events as erased', async () => {
    const { server, alice } = await someHistory();
    const deletion = server.runtime.users.delete(alice, { actor: `admin:${ADMIN}` });
    expect(deletion).toBeDefined();
    // The index of erased events is what a replay of the erased log builds.
    const indexRows = () =>
      server.runtime.db.prepare('SELECT * FROM audit_index ORDER BY seq').all();
    const live = indexRows();
    server.runtime.projector.rebuildAll();
    expect(indexRows()).toEqual(live);
    const client = await adminBrowser(server);
    const html = (await client.get('/admin/audit?per_page=100')).body;
    const lines = linesOf(html);
    expect(
      lines.some((l) =>
        /^The account deleted account [0-9a-f]{8}… was deleted; \d+ earlier events were erased$/.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(
      lines.filter((l) => l.startsWith('Content erased when the account was deleted')).length,
    ).toBeGreaterThan(2);
    expect(html).toContain('class="audit-erased"');
    expect(html).not.toContain('alice paired');
    // The erased events are no longer found by the ids their data named.
    expect(seqsOf((await client.get(`/admin/audit?user=${alice}`)).body).length).toBeGreaterThan(0);
  });

  it('renders an HTML-injection username inert', async () => {
    const server = await startServer();
    await addUser(server, 'alice');
    // Usernames are restricted; a device's name and a vault id are the user's free text.
    const evil = '<img src=x onerror=alert(1)>';
    await pair(server, 'alice', `${evil}"'`, evil);
    const client = await adminBrowser(server);
    const html = (await client.get('/admin/audit')).body;
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;');
    const search = (await client.get(`/admin/audit?device=${encodeURIComponent(evil)}`)).body;
    expect(search).not.toContain('<img src=x');
    expect(seqsOf(search).length).toBe(1);
    const typed = (await client.get(`/admin/audit?user=${encodeURIComponent(`${evil}"`)}`)).body;
    expect(typed).not.toContain('<img src=x');
    expect(typed).toContain('No current account is named “&#60;img');
  });

  it('shows refused pairings and device tokens as counted summaries', async () => {
    const server = await startServer();
    await addUser(server, 'alice');
    for (let i = 0; i < 3; i++) {
      const res = await server.app.inject({
        method: 'POST',
        url: '/api/client/pair',
        remoteAddress: '198.51.100.4',
        payload: { login: 'alice', password: 'guess', device_name: 'x', vault_id: 'v' },
      });
      expect(res.statusCode).toBe(401);
    }
    for (const token of ['f'.repeat(64), 'e'.repeat(64)]) {
      const res = await server.app.inject({
        method: 'POST',
        url: '/api/v1/sync/pull',
        remoteAddress: '198.51.100.5',
        headers: { authorization: `Bearer ${token}` },
        payload: { since_sequence: 0 },
      });
      expect(res.statusCode).toBe(401);
    }
    server.runtime.refusals.flushAll();
    const client = await adminBrowser(server);
    const html = (await client.get('/admin/audit?severity=error')).body;
    const lines = linesOf(html);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^2 sync requests with a missing, unknown or revoked device token from /,
    );
    expect(lines[1]).toMatch(/^3 refused sign-ins of users from /);
    expect(html).toContain('<li>Why: wrong name or password (3)</li>');
    expect(html).toContain('<li>From: 198.51.100.4 (3)</li>');
    expect(html).toMatch(/<li>Aimed at: a typed name \(#[0-9a-f]{16}\) \(3\)<\/li>/);
    expect(html).toContain('<li>Why: unknown token (2)</li>');
    expect(html).not.toContain('f'.repeat(64));
    expect(html).toMatch(/<span class="badge badge-error">Error<\/span>/);
  });

  it('changes nothing in the log when read', async () => {
    const { server } = await someHistory();
    const client = await adminBrowser(server);
    const head = logHead(server);
    await client.get('/admin/audit?event=OperationPushed&user=alice&from=2026-12-01');
    await client.get('/admin/audit?before=999999999999&severity=error');
    expect(logHead(server)).toBe(head);
  });
});

const auditSeqsOf = (server: TestServer, type: string) =>
  (
    server.runtime.db
      .prepare('SELECT seq FROM events WHERE type = ? ORDER BY seq DESC')
      .all(type) as { seq: number }[]
  ).map((r) => r.seq);
