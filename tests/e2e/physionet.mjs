// @ts-check
// Shared by review.mjs and quality.mjs (run by review.sh and quality.sh on the PhysioNet dev set,
// imported as dataset 1): the environment, checks, screenshots, and a WebDriver session of the real
// desktop app opened on the Review screen with dataset 1's first note shown.
import { remote } from 'webdriverio';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const TIMEOUT = 30_000;

/** The value of an environment variable the calling shell script sets. */
export function env(/** @type {string} */ name) {
  const value = process.env[name];
  if (!value) throw new Error(`e2e: ${name} is not set (run tests/e2e/review.sh or quality.sh)`);
  return value;
}

/** @param {boolean} ok @param {string} message */
export function check(ok, message) {
  if (!ok) throw new Error(message);
}

/** A screenshot of the app's window into E2E_OUT. */
export function shot(/** @type {string} */ name) {
  execFileSync('import', ['-display', env('DISPLAY'), '-window', 'LocalDx', join(env('E2E_OUT'), `${name}.png`)], { timeout: 15_000 });
}

/** A session of the app (E2E_APP through tauri-driver at E2E_PORT) showing dataset 1 on the Review screen. */
export async function openReview() {
  const browser = await remote({
    hostname: '127.0.0.1',
    port: Number(env('E2E_PORT')),
    logLevel: 'warn',
    capabilities: {
      // @ts-expect-error tauri-driver's own capability
      'tauri:options': { application: env('E2E_APP') },
      'wdio:enforceWebDriverClassic': true,
    },
  });
  const byId = (/** @type {string} */ id) => browser.$(`[data-testid="${id}"]`);
  try {
    await (await byId('nav-review')).waitForClickable({ timeout: TIMEOUT });
    await (await byId('nav-review')).click();
    const select = await byId('review-dataset');
    await select.waitForDisplayed({ timeout: TIMEOUT });
    await select.selectByAttribute('value', '1');
    await (await byId('review-text')).waitForDisplayed({ timeout: TIMEOUT });
  } catch (e) {
    await browser.deleteSession().catch(() => {});
    throw e;
  }
  return browser;
}
