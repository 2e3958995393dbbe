import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOGUE, verifyLog } from '../../src/log/index.js';
import { replayProjections } from '../../src/projections/rebuild.js';
import { blobPath, sha256Of, writeFileAged } from '../commands/cleanup-fixtures.js';
import { filesContaining } from '../helpers/data-dir.js';
import {
  launchBrowser,
  lookContext,
  LOOKS,
  seriousViolations,
  submit,
} from '../helpers/browser.js';
import { call, pair, PASSWORD, pushAccepted, textOp } from '../helpers/sync-app.js';
import { ADMIN_PASSWORD, ADMIN } from './admin-rig.js';
import {
  FROM,
  SMTP_PASS,
  SMTP_USER,
  startMailer,
  startSettingsRig,
  startSink,
} from './admin-settings-rig.js';

// The admin story end to end, in a real browser over a real listener with a real
// SMTP server: find a user, block and unblock them, revoke their device and read both the
// pairing and the revocation on the audit page, set up mail and send a test mail, clean up
// after a dry run, and delete the user; then the log verifies, a replay matches, and no byte
// of the user's name, address, device name or note is left in the data directory.

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());

// One look per language: the sections' own browser tests go through all four.
const FLOW_LOOKS = [LOOKS[0], LOOKS[2]] as const;

describe('the admin story in the browser', () => {
  for (const { locale, acceptLanguage, width, theme } of FLOW_LOOKS) {
    it(`finds, blocks, audits, mails, cleans up and erases (${locale}, ${width})`, async () => {
      const username = `Quillon-${locale}-Marrowby`;
      const email = `quillon.${locale}@erasure.example`;
      const deviceName = `quillon-${locale}-study-desktop`;
      const marker = `NOTE-${locale}-7f3a91-body`;
      const rig = await startSettingsRig();
      const { server } = rig;
      const sink = await startSink({ auth: { user: SMTP_USER, pass: SMTP_PASS } });
      startMailer(rig);
      await server.runtime.users.register(
        { username, email, password: PASSWORD, confirmed: true },
        'operator',
        { actor: 'test' },
      );
      const device = await pair(server, username, 'quillon-vault', deviceName);
      await pushAccepted(server, device, [textOp('op-1', `notes/${marker}.md`, `text ${marker}`)]);

      const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const context = await lookContext(browser, { acceptLanguage, width, theme });
      const page = await context.newPage();
      const checked = async (step: string) => {
        expect(await page.getAttribute('html', 'lang')).toBe(locale);
        expect(await seriousViolations(page), step).toEqual([]);
      };
      try {
        await page.goto(`${base}/admin/login`);
        await page.fill('#admin-username', ADMIN);
        await page.fill('#admin-password', ADMIN_PASSWORD);
        await submit(page, 'form[action="/admin/login"]');
        expect(new URL(page.url()).pathname).toBe('/admin/dashboard');

        // Find the user, block them (their device stops syncing), unblock them.
        await page.goto(`${base}/admin/users`);
        await page.fill('#users-q', username.slice(0, 12));
        await submit(page, 'form[action="/admin/users"]');
        await Promise.all([
          page.waitForURL(/\/admin\/user\/\?id=/),
          page.locator(`th.user-name a:text-is("${username}")`).click(),
        ]);
        const userPage = page.url();
        const row = 'form.user-access';
        await page.fill(`${row} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, row, 'button[value="toggle-user"]');
        expect(page.url()).toContain('flash=blocked');
        await checked('blocked');
        expect(
          (await call(server, device, { method: 'GET', url: '/api/client/me' })).statusCode,
        ).toBe(403);
        await page.fill(`${row} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, row, 'button[value="toggle-user"]');
        expect(page.url()).toContain('flash=unblocked');
        expect(
          (await call(server, device, { method: 'GET', url: '/api/client/me' })).statusCode,
        ).toBe(200);

        // Revoke the device from the devices page.
        await page.goto(`${base}/admin/devices`);
        const deviceRow = `tr:has(th:text-is("${deviceName}")) form.admin-action`;
        await page.fill(`${deviceRow} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, deviceRow, 'button[value="revoke-device"]');
        await checked('revoked');
        expect(
          (await call(server, device, { method: 'GET', url: '/api/client/me' })).statusCode,
        ).toBe(401);

        // The audit page tells the story of that device in the page's language.
        await page.goto(`${base}/admin/audit`);
        await page.fill('#audit-user', username);
        await submit(page, 'form[action="/admin/audit"]');
        await checked('audit');
        const lines = await page.locator('td.audit-line').allTextContents();
        const typeNames = await page.locator('td.audit-type').allTextContents();
        expect(
          lines.some((l) => l.includes(deviceName)),
          lines.join('\n'),
        ).toBe(true);
        expect(typeNames.length).toBeGreaterThanOrEqual(4);
        const types = await page
          .locator('#audit-event option')
          .evaluateAll((os) => os.map((o) => [o.getAttribute('value') ?? '', o.textContent ?? '']));
        const nameOf = (type: string) => types.find(([v]) => v === type)?.[1] ?? `?${type}`;
        for (const type of ['DevicePaired', 'DeviceRevoked', 'UserBlocked', 'UserUnblocked']) {
          expect(typeNames, type).toContain(nameOf(type));
        }

        // Mail settings pointed at the sink, then a test mail that arrives.
        await page.goto(`${base}/admin/settings`);
        await page.fill('#smtp-host', '127.0.0.1');
        await page.fill('#smtp-port', String(sink.port));
        await page.selectOption('#smtp-security', 'none');
        await page.fill('#smtp-user', SMTP_USER);
        await page.fill('#smtp-pass', SMTP_PASS);
        await page.fill('#smtp-from', FROM);
        await page.fill('#smtp-password', ADMIN_PASSWORD);
        await submit(page, 'form#smtp-settings');
        expect(page.url()).toContain('flash=smtp_saved');
        await page.fill('#test-to', `admin-${locale}@example.test`);
        await page.fill('#test-password', ADMIN_PASSWORD);
        await submit(page, 'form#smtp-test');
        expect(page.url()).toContain('flash=smtp_test_passed');
        expect(sink.messages.some((m) => m.to.includes(`admin-${locale}@example.test`))).toBe(true);
        await checked('settings');

        // A file no vault refers to: the dry run lists it, the cleanup removes it.
        const orphan = blobPath(server.dir, sha256Of(`orphan ${locale}`));
        writeFileAged(orphan, `orphan ${locale}`, new Date(Date.now() - 2 * 3_600_000));
        await page.goto(`${base}/admin/storage`);
        await submit(page, 'form[action="/admin/storage"]');
        expect(await page.locator('[data-plan="some"]').count()).toBe(1);
        expect(existsSync(orphan)).toBe(true);
        await checked('cleanup-plan');
        await page.fill('#cleanup-password', ADMIN_PASSWORD);
        await submit(page, 'form:has(input[value="cleanup"])');
        expect(page.url()).toContain('flash=cleanup_done');
        expect(existsSync(orphan)).toBe(false);
        await checked('cleanup-done');

        // Delete the user: their content leaves the log and the data directory.
        await page.goto(userPage);
        const deleteForm = 'form.user-delete';
        await page.fill(`${deleteForm} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, deleteForm, 'button[value="delete-user"]');
        expect(new URL(page.url()).pathname).toBe('/admin/users');
        expect(await page.locator(`th.user-name:text-is("${username}")`).count()).toBe(0);
        await checked('deleted');
      } finally {
        await context.close();
      }
      const db = server.runtime.db;
      expect(verifyLog(db)).toMatchObject({ problems: [], integrity: [] });
      const replayOptions = { catalogue: CATALOGUE, scratchDir: server.dir };
      expect(replayProjections(server.runtime, { ...replayOptions, check: true }).diffs).toEqual(
        [],
      );
      db.pragma('wal_checkpoint(TRUNCATE)');
      expect(filesContaining(server.dir, [username, email, deviceName, marker])).toEqual([]);
    });
  }
});
