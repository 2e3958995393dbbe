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

// The devices page's actions in a real browser: revoke a device with the password again,
// then delete it; the vault detail offers the same forms. In English and Russian, at both
// widths and in both colour schemes, checked with axe-core.

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());

describe('device actions in the browser', () => {
  for (const { locale, acceptLanguage, width, theme } of LOOKS) {
    it(`revokes then deletes a device (${locale}, ${width}, ${theme})`, async () => {
      const server = await startAdminServer();
      await addUser(server, 'alice');
      await addUser(server, 'bob');
      const laptop = await pair(server, 'alice', 'notes', 'laptop');
      await pair(server, 'alice', 'notes', 'work-desktop-with-a-long-hostname');
      await pair(server, 'bob', 'recipes', 'phone');
      await pushAccepted(server, laptop, [textOp('op-1', 'a.md', 'one')]);
      const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const context = await lookContext(browser, { acceptLanguage, width, theme });
      const page = await context.newPage();
      const look = async (step: string) => {
        expect(await page.getAttribute('html', 'lang')).toBe(locale);
        await screenshot(page, `admin-devices-${step}-${locale}-${width}-${theme}`);
        expect(await seriousViolations(page), step).toEqual([]);
      };
      const row = 'tr:has(th:text-is("laptop")) form';
      try {
        await page.goto(`${base}/admin/login`);
        await page.fill('#admin-username', ADMIN);
        await page.fill('#admin-password', ADMIN_PASSWORD);
        await Promise.all([
          page.waitForNavigation(),
          page.locator('form[action="/admin/login"] button[type=submit]').click(),
        ]);
        await page.goto(`${base}/admin/devices`);
        await look('list');
        // Nothing on the page reads as a device id.
        expect(await page.locator('main').innerText()).not.toContain(laptop.deviceId);

        // The browser itself refuses an empty password (the field is required).
        await page.locator(`${row} button[value="revoke-device"]`).click();
        expect(new URL(page.url()).search).toBe('');

        await page.fill(`${row} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, row, 'button[value="revoke-device"]');
        expect(page.url()).toContain('flash=device_revoked');
        expect(await page.textContent('.flash')).toContain('laptop');
        expect(await page.locator(`${row} button[value="delete-device"]`).count()).toBe(1);
        await look('revoked');
        const me = await fetch(`${base}/api/client/me`, {
          headers: { authorization: `Bearer ${laptop.token}` },
        });
        expect(me.status).toBe(401);

        await page.fill(`${row} input[name=password]`, 'not the password');
        await submit(page, row, 'button[value="delete-device"]');
        await look('wrong-password');
        await page.goBack();

        await page.fill(`${row} input[name=password]`, ADMIN_PASSWORD);
        await submit(page, row, 'button[value="delete-device"]');
        expect(page.url()).toContain('flash=device_deleted');
        expect(await page.locator('tr:has(th:text-is("laptop"))').count()).toBe(0);
        await look('deleted');

        await page.goto(`${base}/admin/vaults`);
        await page.locator('a:text-is("notes")').first().click();
        await page.waitForURL(/\/admin\/vault\//);
        await look('vault');
      } finally {
        await context.close();
      }
    });
  }
});
