import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core: the tests never download a browser of their
 * own. `.ci/run` installs the package; these flags keep it from reaching the network.
 */
export const CHROMIUM = process.env.VSS_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/** The two widths every page must read well at. */
export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 800 },
} as const;

/**
 * Each language at both widths and in both colour schemes: the looks a page is screenshotted
 * and checked in.
 */
export const LOOKS = [
  { locale: 'en', acceptLanguage: 'en-US,en;q=0.8', width: 'desktop', theme: 'light' },
  { locale: 'en', acceptLanguage: 'en-US,en;q=0.8', width: 'phone', theme: 'dark' },
  { locale: 'ru', acceptLanguage: 'ru-RU,ru;q=0.9', width: 'phone', theme: 'light' },
  { locale: 'ru', acceptLanguage: 'ru-RU,ru;q=0.9', width: 'desktop', theme: 'dark' },
] as const;

export type Look = (typeof LOOKS)[number];

/**
 * A browser context in one look: its language, width and colour scheme. bypassCSP only lets
 * axe-core's script in; no page needs it otherwise.
 */
export function lookContext(
  browser: Browser,
  look: Pick<Look, 'acceptLanguage' | 'width' | 'theme'>,
): Promise<BrowserContext> {
  return browser.newContext({
    bypassCSP: true,
    viewport: VIEWPORTS[look.width],
    colorScheme: look.theme,
    extraHTTPHeaders: { 'accept-language': look.acceptLanguage },
  });
}

/** Submits a form with one of its buttons and waits for the page the answer leads to. */
export async function submit(page: Page, form: string, button = 'button[type=submit]') {
  await Promise.all([page.waitForNavigation(), page.locator(`${form} ${button}`).first().click()]);
}

/** Where tests leave screenshots for people to look at (ignored by git). */
export const SCREENSHOT_DIR = join(import.meta.dirname, '..', '..', 'screenshots');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  nodes: { target: string[] }[];
}

const AXE_SOURCE = join(import.meta.dirname, '..', '..', 'node_modules', 'axe-core', 'axe.min.js');

/**
 * The page's serious and critical accessibility violations, found by axe-core run inside
 * the page (@axe-core/playwright needs Node 22; the engine itself is the same).
 */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: unknown[] }> } })
      .axe;
    return (await axe.run()).violations;
  });
  return (violations as AxeViolation[])
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`,
    );
}
