// @ts-check
// Checks the Review screen's "Detector quality" tab in the real desktop app (driven by
// tests/e2e/quality.sh through tauri-driver) against the CLI's `review quality --json` on the same
// database: the overall figures, one table row per type, the misses listed, and a miss opening its
// note in the Review tab. Prints one JSON object; exits non-zero on a failed check.
import { readFileSync } from 'node:fs';
import { TIMEOUT, check, env, openReview, shot } from './physionet.mjs';

const cli = JSON.parse(readFileSync(env('E2E_QUALITY'), 'utf8'));

/** @type {WebdriverIO.Browser} */
let browser;
const byId = (/** @type {string} */ id) => browser.$(`[data-testid="${id}"]`);
const text = async (/** @type {string} */ id) => String(await (await byId(id)).getProperty('textContent'));
const pct = (/** @type {number} */ x) => (x * 100).toFixed(1) + '%';

async function main() {
  browser = await openReview();
  try {
    const t0 = Date.now();
    await (await byId('tab-quality')).click();
    await (await byId('quality-overall')).waitForDisplayed({ timeout: TIMEOUT });
    const shownMs = Date.now() - t0;
    const overall = await text('quality-overall');
    for (const want of [String(cli.measured), pct(cli.tokenRecall), pct(cli.tokenPrecision), pct(cli.spanRecall), pct(cli.spanPrecision)]) {
      check(overall.includes(want), `the overall figures show ${want}: ${overall}`);
    }
    const rows = await browser.$$('[data-testid="quality-types"] tbody tr');
    check(rows.length === cli.perType.length, `one row per type: ${rows.length} of ${cli.perType.length}`);
    const misses = await browser.$$('[data-testid="quality-misses"] button');
    check(misses.length === cli.misses.length && misses.length > 0, `every miss listed: ${misses.length} of ${cli.misses.length}`);
    const first = cli.misses[0];
    check((await text('quality-misses')).includes(first.text), `the first miss shows ${first.text}`);
    shot('review-quality');
    await misses[0].click();
    await (await byId('review-text')).waitForDisplayed({ timeout: TIMEOUT });
    const position = await text('review-position');
    check(position.toLowerCase().includes(`record ${first.recordId}`), `the miss opened record ${first.recordId}: ${position}`);
    console.log(JSON.stringify({ ok: true, measured: cli.measured, token_recall: cli.tokenRecall, token_precision: cli.tokenPrecision, types: rows.length, misses: misses.length, tab_shown_ms: shownMs }));
  } finally {
    await browser.deleteSession().catch(() => {});
  }
}

main().catch((e) => {
  console.error(`e2e quality: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
