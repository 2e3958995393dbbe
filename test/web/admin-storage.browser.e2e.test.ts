import { existsSync } from 'node:fs';
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
import { seedRetention } from '../commands/cleanup-fixtures.js';
import { ADMIN, ADMIN_PASSWORD, startAdminServer } from './admin-rig.js';

// The storage and diagnostics pages in a real browser: the dry run, the cleanup with the
// password again, the last cleanup it leaves, and the diagnostics; in English and Russian,
// at both widths and in both colour schemes, checked with axe-core.

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());

describe('storage and diagnostics in the browser', () => {
  for (const { locale, acceptLanguage, width, theme } of LOOKS) {
    it(`checks, cleans up and reads the diagnostics (${locale}, ${width}, ${theme})`, async () => {
      const server = await startAdminServer();
      const files = seedRetention(server.runtime, new Date());
      const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const context = await lookContext(browser, { acceptLanguage, width, theme });
      const page = await context.newPage();
      const look = async (step: string) => {
        expect(await page.getAttribute('html', 'lang')).toBe(locale);
        await screenshot(page, `admin-storage-${step}-${locale}-${width}-${theme}`);
        expect(await seriousViolations(page), step).toEqual([]);
      };
      try {
        await page.goto(`${base}/admin/login`);
        await page.fill('#admin-username', ADMIN);
        await page.fill('#admin-password', ADMIN_PASSWORD);
        await submit(page, 'form[action="/admin/login"]');

        await page.locator('.admin-nav a[href="/admin/storage"]').click();
        await page.waitForURL(/\/admin\/storage/);
        expect(await page.textContent('[data-stat="temp-uploads"]')).toBe('2');
        expect(await page.locator('[data-last="none"]').count()).toBe(1);
        await look('page');

        await submit(page, 'form[action="/admin/storage"]');
        expect(page.url()).toContain('check=1');
        expect(await page.textContent('[data-plan-row="sessions"]')).toBe('1');
        expect(existsSync(files.orphan)).toBe(true);
        await look('plan');

        await page.fill('#cleanup-password', ADMIN_PASSWORD);
        await submit(page, 'form[action="/admin/action"]');
        expect(page.url()).toContain('flash=cleanup_done');
        expect(await page.locator('.flash').count()).toBe(1);
        expect(await page.textContent('[data-removed="sessions"]')).toBe('1');
        expect(existsSync(files.orphan)).toBe(false);
        await look('done');

        await submit(page, 'form[action="/admin/storage"]');
        expect(await page.locator('[data-plan="nothing"]').count()).toBe(1);
        await look('nothing');

        await page.locator('.admin-nav a[href="/admin/diagnostics"]').click();
        await page.waitForURL(/\/admin\/diagnostics/);
        expect(await page.locator('[data-projection]').count()).toBe(
          server.runtime.projector.projections.length,
        );
        await look('diagnostics');
      } finally {
        await context.close();
      }
    });
  }
});
