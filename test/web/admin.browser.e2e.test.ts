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
import { addUser, pair } from '../helpers/sync-app.js';
import { ADMIN, ADMIN_PASSWORD, startAdminServer } from './admin-rig.js';

// The admin console in a real browser: sign in, the overview, the users list, a block with
// the password again, the devices and vaults lists, sign out; in English and Russian, at both
// widths and in both colour schemes, checked with axe-core.

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());

describe('the admin console in the browser', () => {
  for (const { locale, acceptLanguage, width, theme } of LOOKS) {
    it(`signs in, lists and blocks a user, signs out (${locale}, ${width}, ${theme})`, async () => {
      const server = await startAdminServer();
      for (const name of ['alice', 'bob']) await addUser(server, name);
      await addUser(server, 'carol', false);
      await pair(server, 'alice', 'notes', 'laptop');
      const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const context = await lookContext(browser, { acceptLanguage, width, theme });
      const page = await context.newPage();
      const look = async (step: string) => {
        expect(await page.getAttribute('html', 'lang')).toBe(locale);
        await screenshot(page, `admin-${step}-${locale}-${width}-${theme}`);
        expect(await seriousViolations(page), step).toEqual([]);
      };
      try {
        await page.goto(`${base}/admin`);
        expect(new URL(page.url()).pathname).toBe('/admin/login');
        await look('login');
        await page.fill('#admin-username', ADMIN);
        await page.fill('#admin-password', ADMIN_PASSWORD);
        await submit(page, 'form[action="/admin/login"]');
        expect(new URL(page.url()).pathname).toBe('/admin/dashboard');
        expect(await page.textContent('[data-stat="users"]')).toBe('3');
        await look('dashboard');

        await page.locator('.admin-nav a[href="/admin/users"]').click();
        await page.waitForURL(/\/admin\/users/);
        expect(await page.getAttribute('.admin-nav a[href="/admin/users"]', 'aria-current')).toBe(
          'page',
        );
        await look('users');
        // A row links to the user's page, which holds the actions.
        await Promise.all([
          page.waitForURL(/\/admin\/user\/\?id=/),
          page.locator('th.user-name a:text-is("bob")').click(),
        ]);
        expect(await page.getAttribute('.admin-nav a[href="/admin/users"]', 'aria-current')).toBe(
          'page',
        );
        await look('user');
        const form = 'form.user-access';
        await page.fill(`${form} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, form, 'button[value="toggle-user"]');
        expect(page.url()).toContain('flash=blocked');
        expect(await page.textContent('.flash')).toContain('bob');
        await look('user-blocked');

        for (const section of ['devices', 'vaults']) {
          await page.locator(`.admin-nav a[href="/admin/${section}"]`).click();
          await page.waitForURL(new RegExp(`/admin/${section}`));
          await look(section);
        }

        await submit(page, 'form[action="/admin/logout"]');
        expect(new URL(page.url()).pathname).toBe('/admin/login');
      } finally {
        await context.close();
      }
    });
  }
});
