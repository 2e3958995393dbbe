import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.js';
import {
  launchBrowser,
  lookContext,
  LOOKS,
  screenshot,
  seriousViolations,
  submit,
} from '../helpers/browser.js';
import { testHasher } from '../helpers/runtime.js';
import { addUser, pair, pushAccepted, textOp } from '../helpers/sync-app.js';
import { ADMIN, ADMIN_PASSWORD, startAdminServer } from './admin-rig.js';

// The audit page in a real browser: the log, a type filter, a user filter and the
// refusal summaries; in English and Russian, at both widths and in both colour schemes.

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => browser.close());

async function someHistory() {
  const clock = createManualClock('2026-12-03T09:00:00.000Z');
  const server = await startAdminServer({
    clock,
    hasher: testHasher,
    settings: { admin: [{ username: ADMIN, password_hash: `test$${ADMIN_PASSWORD}` }] },
  });
  const alice = await addUser(server, 'alice');
  await addUser(server, 'bob');
  clock.advance(3_600_000);
  const laptop = await pair(server, 'alice', 'notes', 'laptop');
  await pair(server, 'bob', 'work', 'desktop');
  await pushAccepted(server, laptop, [textOp('op-1', 'a.md', 'text')]);
  clock.advance(3_600_000);
  server.runtime.devices.revoke(laptop.deviceId, alice, 'user', { actor: `user:${alice}` });
  for (let i = 0; i < 12; i++) {
    await server.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      remoteAddress: '203.0.113.7',
      payload: { username: i < 6 ? 'alice' : 'mallory@example.test', password: 'guess' },
    });
  }
  server.runtime.refusals.flushAll();
  return server;
}

describe('the audit page in the browser', () => {
  for (const { locale, acceptLanguage, width, theme } of LOOKS) {
    it(`lists, filters by type and user (${locale}, ${width}, ${theme})`, async () => {
      const server = await someHistory();
      const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const context = await lookContext(browser, { acceptLanguage, width, theme });
      const page = await context.newPage();
      const look = async (step: string) => {
        expect(await page.getAttribute('html', 'lang')).toBe(locale);
        await screenshot(page, `admin-audit-${step}-${locale}-${width}-${theme}`);
        expect(await seriousViolations(page), step).toEqual([]);
        // Nothing wider than the screen at a phone's width.
        const overflow = await page.evaluate(
          'document.documentElement.scrollWidth - document.documentElement.clientWidth',
        );
        expect(overflow, step).toBeLessThanOrEqual(0);
      };
      const rows = () => page.locator('tbody tr').count();
      try {
        await page.goto(`${base}/admin/login`);
        await page.fill('#admin-username', ADMIN);
        await page.fill('#admin-password', ADMIN_PASSWORD);
        await submit(page, 'form[action="/admin/login"]');
        await page.locator('.admin-nav a[href="/admin/audit"]').click();
        await page.waitForURL(/\/admin\/audit/);
        expect(await page.getAttribute('.admin-nav a[href="/admin/audit"]', 'aria-current')).toBe(
          'page',
        );
        const all = await rows();
        expect(all).toBeGreaterThan(6);
        expect(await page.locator('.badge-error').count()).toBeGreaterThan(0);
        expect(await page.locator('time[title]').count()).toBe(all);
        await look('all');

        await page.selectOption('#audit-event', 'DevicePaired');
        await submit(page, 'form[role=search]');
        expect(page.url()).toContain('event=DevicePaired');
        expect(await rows()).toBe(2);
        await look('type');

        await page.selectOption('#audit-event', '');
        await page.fill('#audit-user', 'alice');
        await submit(page, 'form[role=search]');
        const ofAlice = await rows();
        expect(ofAlice).toBeGreaterThan(2);
        expect(ofAlice).toBeLessThan(all);
        expect(await page.textContent('tbody')).not.toContain('bob');
        await look('user');

        await page.goto(`${base}/admin/audit?user=nobody&event=OperationPushed`);
        expect(await rows()).toBe(0);
        await look('empty');
      } finally {
        await context.close();
        await server.app.close();
      }
    });
  }
});
