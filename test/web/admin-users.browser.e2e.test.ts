import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchBrowser,
  LOOKS,
  screenshot,
  seriousViolations,
  VIEWPORTS,
} from '../helpers/browser.js';
import { addUser } from '../helpers/sync-app.js';
import { ADMIN, ADMIN_PASSWORD, startAdminServer } from './admin-rig.js';
import { userIdOf, userRow, userSignIn } from './admin-users-rig.js';

// User management in a real browser: create a user with a generated password and see it
// once, edit, reset the password, delete; in each language, width and colour scheme, each
// page checked with axe-core.

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());

async function submit(page: Page, form: string, button = 'button[type=submit]') {
  await Promise.all([page.waitForNavigation(), page.locator(`${form} ${button}`).first().click()]);
}

const rowOf = (username: string) => `tr:has(th:text-is("${username}"))`;

describe('user management in the browser', () => {
  for (const { locale, acceptLanguage, width, theme } of LOOKS) {
    it(`creates, edits, resets and deletes a user (${locale}, ${width}, ${theme})`, async () => {
      const server = await startAdminServer();
      for (const name of ['alice', 'bob']) await addUser(server, name);
      const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const context = await browser.newContext({
        bypassCSP: true,
        viewport: VIEWPORTS[width],
        colorScheme: theme,
        extraHTTPHeaders: { 'accept-language': acceptLanguage },
      });
      const page = await context.newPage();
      const look = async (step: string) => {
        expect(await page.getAttribute('html', 'lang')).toBe(locale);
        await screenshot(page, `admin-users-${step}-${locale}-${width}-${theme}`);
        expect(await seriousViolations(page), step).toEqual([]);
      };
      const shown = async () => (await page.locator('.one-time-secret code').textContent()) ?? '';
      try {
        await page.goto(`${base}/admin/login`);
        await page.fill('#admin-username', ADMIN);
        await page.fill('#admin-password', ADMIN_PASSWORD);
        await submit(page, 'form[action="/admin/login"]');
        await page.goto(`${base}/admin/users`);
        await look('list');

        await Promise.all([
          page.waitForURL(/\/admin\/create-user$/),
          page.locator('a[href="/admin/create-user"]').first().click(),
        ]);
        await look('create');
        await page.fill('#create-username', 'newbie');
        await page.fill('#create-email', 'newbie@example.test');
        expect(await page.isChecked('input[name=password_mode][value=generate]')).toBe(true);
        await submit(page, 'form[action="/admin/create-user"]');
        expect(new URL(page.url()).pathname).toBe('/admin/password-result');
        const generated = await shown();
        expect(generated).toMatch(/^[0-9a-f]{32}$/);
        await look('password');
        expect((await userSignIn(server, 'newbie', generated)).status).toBe(303);
        await page.reload();
        expect(await page.locator('.one-time-secret').count()).toBe(0);
        await look('password-gone');

        await page.goto(`${base}/admin/users?sort=username&order=asc`);
        const row = rowOf('newbie');
        await page.locator(`${row} details summary`).click();
        await look('manage');
        const edit = `${row} form:has(button[value="edit-user"])`;
        await page.fill(`${edit} input[name=username]`, 'renamed');
        await submit(page, edit, 'button[value="edit-user"]');
        expect(page.url()).toContain('flash=updated');
        expect(await page.textContent('.flash')).toContain('renamed');
        const id = userIdOf(server, 'renamed')!;
        expect(userRow(server, id)).toMatchObject({ username: 'renamed', confirmed: 1 });
        await look('edited');

        await page.locator(`${rowOf('renamed')} details summary`).click();
        const reset = `${rowOf('renamed')} form:has(button[value="reset-user-password"])`;
        await page.fill(`${reset} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, reset, 'button[value="reset-user-password"]');
        expect(new URL(page.url()).pathname).toBe('/admin/password-result');
        const fresh = await shown();
        expect(fresh).toMatch(/^[0-9a-f]{32}$/);
        expect(fresh).not.toBe(generated);
        expect((await userSignIn(server, 'renamed', fresh)).status).toBe(303);

        await page.goto(`${base}/admin/users?sort=username&order=asc`);
        await page.locator(`${rowOf('renamed')} details summary`).click();
        const remove = `${rowOf('renamed')} form:has(button[value="delete-user"])`;
        await page.fill(`${remove} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, remove, 'button[value="delete-user"]');
        expect(page.url()).toContain('flash=deleted');
        expect(await page.locator(rowOf('renamed')).count()).toBe(0);
        expect(userRow(server, id)).toBeUndefined();
        await look('deleted');
      } finally {
        await context.close();
      }
    });
  }
});
