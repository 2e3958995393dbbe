import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  closeMailFlows,
  emailOf,
  linkOf,
  listenAsPublicUrl,
  login,
  pathOf,
  register,
  startMailFlow,
} from '../http/accounts/mail-rig.js';
import {
  launchBrowser,
  lookContext,
  LOOKS,
  screenshot,
  seriousViolations,
} from '../helpers/browser.js';

// A person confirming their address in a real browser: the mailed link, the page it opens,
// the button that confirms (a GET never does), in each language, width and colour scheme.

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());
afterEach(closeMailFlows);

describe('the mailed confirmation link in a browser', () => {
  for (const { locale, acceptLanguage, width, theme } of LOOKS) {
    it(`opens a page that confirms on a click (${locale}, ${width}, ${theme})`, async () => {
      const flow = await startMailFlow();
      const base = await listenAsPublicUrl(flow);
      expect((await register(flow, `ann-${locale}`)).statusCode).toBe(200);
      const [mail] = await flow.mailsTo(emailOf(`ann-${locale}`), 1);
      const link = linkOf(mail!, '/api/v1/auth/confirm?token=');

      // bypassCSP only lets axe-core's script in; no page needs it otherwise.
      const context = await lookContext(browser, { acceptLanguage, width, theme });
      const page = await context.newPage();
      const opened = await page.goto(`${base}${pathOf(link)}`);
      expect(opened?.status()).toBe(200);
      expect(await page.getAttribute('html', 'lang')).toBe(locale);
      await screenshot(page, `confirm-form-${locale}-${width}-${theme}`);
      expect(await seriousViolations(page)).toEqual([]);
      // Opening the link confirmed nothing: a mail scanner's GET must not.
      expect((await login(flow, `ann-${locale}`)).statusCode).toBe(403);

      await Promise.all([
        page.waitForURL('**/confirm/result'),
        page.locator('form[action="/api/v1/auth/confirm"] button').click(),
      ]);
      await screenshot(page, `confirm-done-${locale}-${width}-${theme}`);
      expect(await seriousViolations(page)).toEqual([]);
      expect((await login(flow, `ann-${locale}`)).statusCode).toBe(200);
      await context.close();
    });
  }
});
