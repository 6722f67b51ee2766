// @ts-check
// Reviews notes of the PhysioNet dev set by keyboard only in the real desktop app (driven by
// tests/e2e/review.sh through tauri-driver): for each open note, Enter on every undecided span
// (accept and advance), then `s` (sign off, next note). Counts keystrokes, times each note, and
// times in the page how long the next note takes to appear after `s` (keydown to the new note in
// the DOM, with the screen ready for the next key). Prints one JSON object; exits non-zero on a failed check.
import { TIMEOUT, check, openReview, shot } from './physionet.mjs';

const NOTES = Number(process.env.E2E_NOTES ?? 40);

/** @type {WebdriverIO.Browser} */
let browser;
const byId = (/** @type {string} */ id) => browser.$(`[data-testid="${id}"]`);
const text = async (/** @type {string} */ id) => String(await (await byId(id)).getProperty('textContent'));
const undecided = async () => parseInt(await text('review-undecided'), 10);
/** Resolves when the note's undecided count reads `expected`, watching the DOM inside the page. */
async function untilUndecided(/** @type {number} */ expected) {
  const ok = await browser.executeAsync((want, done) => {
    const now = () => parseInt(document.querySelector('[data-testid="review-undecided"]')?.textContent ?? '', 10);
    if (now() === want) return done(true);
    const obs = new MutationObserver(() => {
      if (now() === want) {
        obs.disconnect();
        done(true);
      }
    });
    obs.observe(document.body, { subtree: true, childList: true, characterData: true });
    setTimeout(() => done(false), 20_000);
  }, expected);
  check(ok === true, `the undecided count did not reach ${expected}`);
}
const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (/** @type {number[]} */ xs, /** @type {number} */ p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

async function main() {
  browser = await openReview();
  try {
    // Every error the screen shows, kept for the report (the banner clears on the next call).
    await browser.execute(() => {
      const seen = /** @type {string[]} */ ([]);
      /** @type {any} */ (window).__reviewErrors = seen;
      new MutationObserver(() => {
        const e = document.querySelector('[data-testid="review-error"]')?.textContent;
        if (e && seen[seen.length - 1] !== e) seen.push(e);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const rendered = await text('review-text');
    check(rendered.length > 50, 'the first note is shown');

    // E2E_PROBE=1: the bare backend round trip of the calls the screen makes, timed in the page.
    if (process.env.E2E_PROBE) {
      const probe = await browser.executeAsync((done) => {
        const inv = /** @type {any} */ (window).__TAURI_INTERNALS__.invoke;
        const out = /** @type {Record<string, number>} */ ({});
        const time = async (/** @type {string} */ cmd, /** @type {any} */ args) => {
          const t = performance.now();
          try { await inv(cmd, args); } catch (e) { out[`${cmd}-error`] = 1; }
          out[cmd] = performance.now() - t;
        };
        (async () => {
          await time('session', {});
          await time('review_counts', { datasetId: 1 });
          await time('review_open_notes', { datasetId: 1 });
          const note = await inv('review_note', { recordId: 1 });
          await time('review_note', { recordId: 1 });
          await time('review_decide', { spanId: note.spans[0].id, decision: { kind: 'reject' } });
          await time('review_undo', { recordId: 1 });
          await new Promise((r) => setTimeout(r, 1000));
          const t1 = performance.now();
          await inv('review_counts', { datasetId: 1 });
          out.counts_after_idle = performance.now() - t1;
          const t2 = performance.now();
          await inv('review_counts', { datasetId: 1 });
          out.counts_again = performance.now() - t2;
          // The same call right after the page changed (as after every action on the screen).
          document.querySelector('[data-testid="review-body"]')?.setAttribute('aria-busy', 'true');
          const t3 = performance.now();
          await inv('review_counts', { datasetId: 1 });
          out.counts_after_dom_change = performance.now() - t3;
          document.querySelector('[data-testid="review-body"]')?.setAttribute('aria-busy', 'false');
          // ... and after a visible change, which the webview has to paint.
          document.body.style.background = '#fafafa';
          const t4 = performance.now();
          await inv('review_counts', { datasetId: 1 });
          out.counts_after_repaint = performance.now() - t4;
          document.body.style.background = '';
          const t = performance.now();
          await new Promise((r) => requestAnimationFrame(() => r(null)));
          out.frame = performance.now() - t;
          done(out);
        })();
      });
      console.log(JSON.stringify(probe));
    }
    let shotTaken = false;
    const perNote = [];
    const nextNoteMs = [];
    /** @type {number[]} */
    const enterMs = [];
    /** @type {number[]} */
    const navMs = [];
    /** The backend round trip of loading the note, as the screen shows it. */
    const loadMs = [];
    for (let n = 0; n < NOTES; n++) {
      const u = await undecided();
      if (!shotTaken && u >= 3) {
        await browser.pause(300);
        shot('review');
        shotTaken = true;
      }
      // The note is reviewed inside the page: a WebDriver command in flight (polling, key actions)
      // holds up the page's event loop under WebKitWebDriver and would be measured as app time. Keys
      // are dispatched as the keydown events a keyboard sends, and every wait watches the DOM.
      const r = /** @type {{keys: number, ms: number, nextMs: number, enterMs: number[], navMs: number} | string} */ (await browser.executeAsync((spans, done) => {
        const q = (/** @type {string} */ id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? '';
        const undecidedNow = () => parseInt(q('review-undecided'), 10);
        const press = (/** @type {string} */ key) => window.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
        // Waits watch the DOM (MutationObserver callbacks are microtasks): timers and animation
        // frames are throttled in a window nobody looks at, which would be measured as app time.
        const until = (/** @type {() => boolean} */ cond) => new Promise((resolve, reject) => {
          if (cond()) return resolve(null);
          const obs = new MutationObserver(() => { if (cond()) { obs.disconnect(); clearTimeout(timer); resolve(null); } });
          obs.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
          const timer = setTimeout(() => { obs.disconnect(); reject(new Error(`timed out at: ${q('review-position')} / ${q('review-undecided')} / ${q('review-error')}`)); }, 20_000);
        });
        (async () => {
          const t0 = performance.now();
          let keys = 0;
          const enterMs = [];
          for (let i = 1; i <= spans; i++) {
            const e0 = performance.now();
            press('Enter');
            keys++;
            await until(() => undecidedNow() === spans - i);
            enterMs.push(performance.now() - e0);
          }
          // Navigation alone (next note, then back), when another note is open.
          const p0 = q('review-position');
          let navMs = -1;
          if (!p0.includes(' of 1 open')) {
            const n0 = performance.now();
            press('n');
            await until(() => q('review-position') !== p0);
            navMs = performance.now() - n0;
            press('p');
            await until(() => q('review-position') === p0);
          }
          const before = q('review-position');
          const s0 = performance.now();
          press('s');
          keys++;
          await until(() => q('review-position') !== before);
          const nextMs = performance.now() - s0;
          done({ keys, ms: performance.now() - t0, nextMs, enterMs, navMs });
        })().catch((e) => done(String(e)));
      }, u));
      check(typeof r !== 'string', String(r));
      const res = /** @type {{keys: number, ms: number, nextMs: number, enterMs: number[], navMs: number}} */ (r);
      const keys = res.keys;
      nextNoteMs.push(res.nextMs);
      enterMs.push(...res.enterMs);
      if (res.navMs >= 0) navMs.push(res.navMs);
      // After the last open note there is no note, and no load time, on screen.
      if (n < 1449) loadMs.push(parseInt(await text('review-load-ms'), 10));
      perNote.push({ spans: u, keys, ms: res.ms });
    }
    const withPhi = perNote.filter((x) => x.spans > 0);
    const avg = (/** @type {number[]} */ xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const result = {
      notes: perNote.length,
      notes_with_phi: withPhi.length,
      keystrokes_per_note_with_phi: Number(avg(withPhi.map((x) => x.keys)).toFixed(2)),
      spans_per_note_with_phi: Number(avg(withPhi.map((x) => x.spans)).toFixed(2)),
      seconds_per_note_with_phi: Number((avg(withPhi.map((x) => x.ms)) / 1000).toFixed(2)),
      next_note_ms_median: Number(median(nextNoteMs).toFixed(1)),
      next_note_ms_p95: Number(pct(nextNoteMs, 0.95).toFixed(1)),
      next_note_ms_max: Number(Math.max(...nextNoteMs).toFixed(1)),
      note_load_ms_median: median(loadMs),
      accept_and_advance_ms_median: Number(median(enterMs).toFixed(1)),
      next_note_without_sign_off_ms_median: Number(median(navMs).toFixed(1)),
    };
    console.log(JSON.stringify(result));
    check(withPhi.length > 0, 'some notes had PHI');
    const errors = await browser.execute(() => /** @type {any} */ (window).__reviewErrors);
    check(errors.length === 0, `the screen showed errors: ${JSON.stringify(errors)}`);
    if (NOTES < 1450) {
      // The counts follow the last sign-off in the background.
      await browser.waitUntil(async () => (await text('review-position')).includes(`of ${1450 - NOTES} open`), { timeout: 10_000 }).catch(() => {});
      const status = await text('review-position');
      check(status.includes(`of ${1450 - NOTES} open`), `the queue shrank by ${NOTES}: ${status}`);
    } else {
      // The whole set: every note signed off by keyboard, then released from the screen.
      await (await byId('review-all-done')).waitForDisplayed({ timeout: TIMEOUT });
      const release = await byId('review-release');
      await release.waitForEnabled({ timeout: TIMEOUT });
      const r0 = Date.now();
      await release.click();
      await (await byId('review-released')).waitForDisplayed({ timeout: 120_000 });
      console.log(JSON.stringify({ released: await text('review-released'), release_seconds: (Date.now() - r0) / 1000 }));
    }
  } finally {
    await browser.deleteSession().catch(() => {});
  }
}

main().catch((e) => {
  console.error(`e2e review: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
