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
import { addUser, pair, pushAccepted, textOp } from '../helpers/sync-app.js';
import { ADMIN, ADMIN_PASSWORD, startAdminServer } from './admin-rig.js';
import { userIdOf, userRow, userSignIn } from './admin-users-rig.js';

// User management in a real browser: create a user with a generated password and see it
// once, open their page from the list, edit, block and unblock, reset the password,
// delete; a user page with devices and a vault; in each language, width and colour scheme,
// each page checked with axe-core.

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());

const userLink = (username: string) => `th.user-name a:text-is("${username}")`;

describe('user management in the browser', () => {
  for (const { locale, acceptLanguage, width, theme } of LOOKS) {
    it(`creates, edits, resets and deletes a user (${locale}, ${width}, ${theme})`, async () => {
      const server = await startAdminServer();
      for (const name of ['alice', 'bob']) await addUser(server, name);
      const laptop = await pair(server, 'alice', 'notes', 'Work laptop');
      await pair(server, 'alice', 'notes', 'Домашний ноутбук');
      await pushAccepted(server, laptop, [textOp('op-1', 'a.md', 'one')]);
      const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const context = await lookContext(browser, { acceptLanguage, width, theme });
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

        // The list links each user to their page, which holds the management forms.
        await page.goto(`${base}/admin/users?sort=username&order=asc`);
        await Promise.all([
          page.waitForURL(/\/admin\/user\/\?id=/),
          page.locator(userLink('newbie')).click(),
        ]);
        const userPage = page.url();
        await look('user');
        const edit = 'form.user-edit';
        await page.fill(`${edit} input[name=username]`, 'renamed');
        await submit(page, edit, 'button[value="edit-user"]');
        expect(page.url()).toContain('flash=updated');
        expect(new URL(page.url()).pathname).toBe('/admin/user/');
        expect(await page.textContent('.flash')).toContain('renamed');
        expect(await page.textContent('.user-name')).toBe('renamed');
        const id = userIdOf(server, 'renamed')!;
        expect(userRow(server, id)).toMatchObject({ username: 'renamed', confirmed: 1 });
        await look('edited');

        const access = 'form.user-access';
        await page.fill(`${access} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, access, 'button[value="toggle-user"]');
        expect(page.url()).toContain('flash=blocked');
        expect(userRow(server, id)).toMatchObject({ blocked: 1 });
        await look('blocked');
        await page.fill(`${access} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, access, 'button[value="toggle-user"]');
        expect(userRow(server, id)).toMatchObject({ blocked: 0 });

        const reset = 'form.user-reset';
        await page.fill(`${reset} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, reset, 'button[value="reset-user-password"]');
        expect(new URL(page.url()).pathname).toBe('/admin/password-result');
        const fresh = await shown();
        expect(fresh).toMatch(/^[0-9a-f]{32}$/);
        expect(fresh).not.toBe(generated);
        expect((await userSignIn(server, 'renamed', fresh)).status).toBe(303);

        await page.goto(userPage);
        const remove = 'form.user-delete';
        await page.fill(`${remove} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, remove, 'button[value="delete-user"]');
        expect(page.url()).toContain('flash=deleted');
        expect(new URL(page.url()).pathname).toBe('/admin/users');
        expect(await page.locator(userLink('renamed')).count()).toBe(0);
        expect(userRow(server, id)).toBeUndefined();
        await look('deleted');

        // A user with devices and a vault: the device table and the vault links.
        await Promise.all([
          page.waitForURL(/\/admin\/user\/\?id=/),
          page.locator(userLink('alice')).click(),
        ]);
        expect(await page.locator('th.device-name').count()).toBe(2);
        expect(await page.locator('th.vault-id a').count()).toBe(1);
        await look('user-devices');
      } finally {
        await context.close();
      }
    });
  }
});
