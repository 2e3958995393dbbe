import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  closeMailFlows,
  emailOf,
  linkOf,
  listenAsPublicUrl,
  pairDevice,
  pathOf,
  startMailFlow,
} from '../http/accounts/mail-rig.js';
import {
  launchBrowser,
  lookContext,
  LOOKS,
  screenshot,
  seriousViolations,
  submit,
} from '../helpers/browser.js';

// A person's whole account in a real browser, over a real listener and real SMTP: register,
// confirm from the mail, sign in, see and revoke a paired device, forget the password, reset
// it from the mailed link, sign in again, sign out. In English and in Russian, at a phone's
// width and a desktop's, light and dark; every page screenshotted and checked with axe-core.

const PASSWORD = 'first password 1';
const NEW_PASSWORD = 'second password 2';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());
afterEach(closeMailFlows);

describe('an account in the browser', () => {
  for (const { locale, acceptLanguage, width, theme } of LOOKS) {
    it(`goes from registration to sign-out (${locale}, ${width}, ${theme})`, async () => {
      const flow = await startMailFlow();
      const base = await listenAsPublicUrl(flow);
      const name = `mila-${locale}`;
      // bypassCSP only lets axe-core's script in; the pages need no script of their own.
      const context: BrowserContext = await lookContext(browser, { acceptLanguage, width, theme });
      const page = await context.newPage();
      const look = async (step: string) => {
        expect(await page.getAttribute('html', 'lang')).toBe(locale);
        await screenshot(page, `account-${step}-${locale}-${width}-${theme}`);
        expect(await seriousViolations(page), step).toEqual([]);
      };

      await page.goto(`${base}/register`);
      await look('register');
      await page.fill('#register-username', name);
      await page.fill('#register-email', emailOf(name));
      await page.fill('#register-password', PASSWORD);
      await submit(page, 'form[action="/register"]');
      expect(page.url()).toBe(`${base}/register/result`);
      await look('register-result');

      const [welcome] = await flow.mailsTo(emailOf(name), 1);
      await page.goto(`${base}${pathOf(linkOf(welcome!, '/api/v1/auth/confirm?token='))}`);
      await submit(page, 'form[action="/api/v1/auth/confirm"]');
      expect(page.url()).toBe(`${base}/confirm/result`);

      const paired = (await pairDevice(flow, name)).json<{ device_token: string }>();
      await page.goto(`${base}/login`);
      await look('login');
      await page.fill('#login-username', name);
      await page.fill('#login-password', PASSWORD);
      await submit(page, 'form[action="/login"]');
      expect(page.url()).toBe(`${base}/dashboard`);
      await look('dashboard');
      const revokeForm = page.locator('form.revoke-form');
      await expect(revokeForm.count()).resolves.toBe(1);

      await revokeForm.locator('input[name=password]').fill(PASSWORD);
      await submit(page, 'form.revoke-form');
      await look('dashboard-revoked');
      const me = await fetch(`${base}/api/client/me`, {
        headers: { authorization: `Bearer ${paired.device_token}` },
      });
      expect(me.status).toBe(401);

      await submit(page, 'form[action="/logout"]');
      expect(page.url()).toBe(`${base}/login`);
      await page.goto(`${base}/forgot`);
      await look('forgot');
      await page.fill('#forgot-email', emailOf(name));
      await submit(page, 'form[action="/forgot"]');
      expect(page.url()).toBe(`${base}/forgot/sent`);

      const mails = await flow.mailsTo(emailOf(name), 2);
      await page.goto(`${base}${pathOf(linkOf(mails[1]!, '/reset?token='))}`);
      await look('reset');
      await page.fill('#reset-password', NEW_PASSWORD);
      await page.fill('#reset-confirm', NEW_PASSWORD);
      await submit(page, 'form[action="/reset"]');
      expect(page.url()).toBe(`${base}/reset/done`);
      await look('reset-done');

      await page.goto(`${base}/login`);
      await page.fill('#login-username', name);
      await page.fill('#login-password', NEW_PASSWORD);
      await submit(page, 'form[action="/login"]');
      expect(page.url()).toBe(`${base}/dashboard`);
      await submit(page, 'form[action="/logout"]');
      await page.goto(`${base}/dashboard`);
      expect(page.url()).toBe(`${base}/login`);
      await context.close();
    });
  }
});
