import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  launchBrowser,
  lookContext,
  LOOKS,
  screenshot,
  seriousViolations,
} from '../helpers/browser.js';
import { startTestServer } from '../helpers/sync-app.js';

// The pages no story passes through on its way: the home page, the message pages a form
// leads to, and the page of an unknown address; each in every look, checked with axe-core.

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());

const PAGES = [
  { name: 'home', path: '/', status: 200 },
  { name: 'forgot-sent', path: '/forgot/sent', status: 200 },
  { name: 'reset-done', path: '/reset/done', status: 200 },
  { name: 'confirm-result', path: '/confirm/result', status: 200 },
  { name: 'not-found', path: '/no/such/page', status: 404 },
] as const;

describe('the remaining pages in the browser', () => {
  for (const { locale, acceptLanguage, width, theme } of LOOKS) {
    it(`read well and pass axe (${locale}, ${width}, ${theme})`, async () => {
      const server = await startTestServer();
      const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const context = await lookContext(browser, { acceptLanguage, width, theme });
      const page = await context.newPage();
      try {
        for (const { name, path, status } of PAGES) {
          const res = await page.goto(`${base}${path}`);
          expect(res?.status(), path).toBe(status);
          expect(await page.getAttribute('html', 'lang')).toBe(locale);
          expect(await page.locator('h1').count(), path).toBe(1);
          await screenshot(page, `page-${name}-${locale}-${width}-${theme}`);
          expect(await seriousViolations(page), path).toEqual([]);
        }
      } finally {
        await context.close();
        await server.close();
      }
    });
  }
});
