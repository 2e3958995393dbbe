import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchBrowser,
  lookContext,
  LOOKS,
  screenshot,
  seriousViolations,
  submit,
} from '../helpers/browser.js';
import { ADMIN, ADMIN_PASSWORD } from './admin-rig.js';
import {
  FROM,
  SMTP_PASS,
  SMTP_USER,
  startMailer,
  startSettingsRig,
  startSink,
} from './admin-settings-rig.js';

// The settings page in a real browser: mail settings pointed at a real SMTP server, a test
// mail that arrives, registration closed and opened again; in each language, width and
// colour scheme, checked with axe-core.

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());

describe('the settings page in the browser', () => {
  for (const { locale, acceptLanguage, width, theme } of LOOKS) {
    it(`sets up mail, sends a test mail, closes registration (${locale}, ${width}, ${theme})`, async () => {
      const rig = await startSettingsRig();
      const sink = await startSink({ auth: { user: SMTP_USER, pass: SMTP_PASS } });
      startMailer(rig);
      const base = await rig.server.app.listen({ host: '127.0.0.1', port: 0 });
      const context = await lookContext(browser, { acceptLanguage, width, theme });
      const page = await context.newPage();
      const look = async (step: string) => {
        expect(await page.getAttribute('html', 'lang')).toBe(locale);
        await screenshot(page, `admin-settings-${step}-${locale}-${width}-${theme}`);
        expect(await seriousViolations(page), step).toEqual([]);
      };
      try {
        await page.goto(`${base}/admin/login`);
        await page.fill('#admin-username', ADMIN);
        await page.fill('#admin-password', ADMIN_PASSWORD);
        await submit(page, 'form[action="/admin/login"]');
        await page.locator('.admin-nav a[href="/admin/settings"]').click();
        await page.waitForURL(/\/admin\/settings/);
        expect(
          await page.getAttribute('.admin-nav a[href="/admin/settings"]', 'aria-current'),
        ).toBe('page');
        await look('empty');

        await page.fill('#smtp-host', '127.0.0.1');
        await page.fill('#smtp-port', String(sink.port));
        await page.selectOption('#smtp-security', 'none');
        await page.fill('#smtp-user', SMTP_USER);
        await page.fill('#smtp-pass', SMTP_PASS);
        await page.fill('#smtp-from', FROM);
        await page.fill('#smtp-password', ADMIN_PASSWORD);
        await submit(page, '#smtp-settings');
        expect(page.url()).toContain('flash=smtp_saved');
        expect(await page.inputValue('#smtp-pass')).toBe('');
        await look('smtp-saved');

        await page.fill('#test-to', 'ops@example.test');
        await page.fill('#test-password', ADMIN_PASSWORD);
        await submit(page, '#smtp-test');
        expect(page.url()).toContain('flash=smtp_test_passed');
        const [mail] = await sink.waitForMessages(1);
        expect(mail!.to).toEqual(['ops@example.test']);
        await look('test-passed');

        await page.uncheck('#web-registration');
        await page.fill('#web-name', 'Team Sync');
        await page.fill('#web-password', ADMIN_PASSWORD);
        await submit(page, '#web-settings');
        expect(page.url()).toContain('flash=settings_saved');
        expect(await page.textContent('.brand span')).toBe('Team Sync');
        expect(await page.isChecked('#web-registration')).toBe(false);
        await look('registration-closed');

        const guest = await context.newPage();
        const closed = await guest.goto(`${base}/register`);
        expect(closed?.status()).toBe(404);
        await guest.goto(`${base}/`);
        expect(await guest.locator('a[href="/register"]').count()).toBe(0);
        await guest.close();

        await page.check('#web-registration');
        await page.fill('#web-name', '');
        await page.fill('#web-password', ADMIN_PASSWORD);
        await submit(page, '#web-settings');
        expect(await page.textContent('.brand span')).toBe('Verstak Sync');
        const open = await context.newPage();
        expect((await open.goto(`${base}/register`))?.status()).toBe(200);
        await open.close();
      } finally {
        await context.close();
      }
    });
  }
});
