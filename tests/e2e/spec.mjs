// @ts-check
// The end-to-end scenario, run by tests/e2e/run.sh against the real desktop binary through
// tauri-driver (WebDriver classic; WebKitWebDriver underneath). It writes a small CSV (one row
// carries HTML), imports it through the wizard by typing its path, opens the dataset and a record,
// checks that note text is shown as text, and saves screenshots. Prints `e2e: N passed, M failed`.
import { remote } from 'webdriverio';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const env = (/** @type {string} */ name) => {
  const value = process.env[name];
  if (!value) throw new Error(`e2e: ${name} is not set (run tests/e2e/run.sh)`);
  return value;
};
const OUT = env('E2E_OUT');
const WORK = env('E2E_WORK');
const TIMEOUT = 20_000;
/** Where the app finds the default base model (run.sh exports it). */
const MODELS = process.env.LOCALDX_MODELS ?? '';
/** Notes in the scale test (0 skips it). */
const SCALE = Number(process.env.E2E_SCALE ?? 100_000);

const HTML_NOTE = 'Itchy rash on both forearms. <img src=x onerror=alert(1)> <b>not bold</b> Plan: topical steroid.';

/**
 * The CSV the wizard imports: 24 good notes (one with HTML in its text) and, on line 12, a row
 * without note text, which the importer refuses until it is told to skip bad rows.
 */
function writeCsv() {
  const labels = ['I10', 'E11.9', 'J45.909', 'L30.9'];
  const lines = ['note_id,patient_id,note,diagnosis'];
  for (let i = 1; i <= 23; i++) {
    const id = `E2E-${String(i).padStart(3, '0')}`;
    lines.push(`${id},P${100 + (i % 7)},"Follow-up visit ${i}. Blood pressure 138/88, feeling well. Continue current plan.",${labels[i % 4]}`);
    if (lines.length === 11) lines.push('E2E-BAD,P300,,I10');
  }
  lines.push(`E2E-HTML,P200,"${HTML_NOTE}",L30.9`);
  const path = join(WORK, 'e2e-notes.csv');
  writeFileSync(path, lines.join('\n') + '\n');
  return { path, rows: 24, badLine: 12 };
}

/**
 * A small labelled CSV with its own split column for the training test: four diagnoses with notes
 * that differ by their symptoms, 6 train, 2 validation and 2 test notes each.
 */
function writeLabelledCsv() {
  const kinds = [
    ['J45.909', 'Wheezing and tight chest at night, relieved by the inhaler'],
    ['I10', 'Blood pressure high again at 162/98, mild headache, on amlodipine'],
    ['E11.9', 'Thirsty and passing urine often, fasting glucose raised, on metformin'],
    ['L30.9', 'Itchy red patches on both forearms, dry skin, using an emollient'],
  ];
  const lines = ['note,diagnosis,split'];
  for (let i = 0; i < 10; i++) {
    const split = i < 6 ? 'train' : i < 8 ? 'validation' : 'test';
    for (const [code, text] of kinds) lines.push(`"${text}. Visit ${i + 1}.",${code},${split}`);
  }
  const path = join(WORK, 'e2e-labelled.csv');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** A CSV of `n` distinct notes for the scale test; note `i` carries the unique token `R{i}X`. */
function writeLargeCsv(/** @type {number} */ n) {
  const labels = ['I10', 'E11.9', 'J45.909', 'L30.9', 'K21.9', 'M54.5'];
  const parts = ['note_id,patient_id,note,diagnosis\n'];
  for (let i = 1; i <= n; i++) {
    const id = `S-${String(i).padStart(6, '0')}`;
    parts.push(`${id},P${i % 5000},"Visit ref R${i}X. Patient seen for routine review, vitals stable, medication reconciled. Plan: recheck in ${1 + (i % 12)} weeks.",${labels[i % labels.length]}\n`);
  }
  const path = join(WORK, 'e2e-large.csv');
  writeFileSync(path, parts.join(''));
  return path;
}

/** @type {{name: string, ok: boolean, error?: string}[]} */
const results = [];

/** Runs one named test; a failure is recorded with a screenshot and does not stop the others. */
async function test(/** @type {string} */ name, /** @type {() => Promise<void>} */ body) {
  const started = Date.now();
  try {
    await body();
    results.push({ name, ok: true });
    console.log(`  ok    ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    results.push({ name, ok: false, error });
    console.log(`  FAIL  ${name}: ${error}`);
    await shot(`failed-${results.length}`).catch(() => {});
  }
}

/** @param {boolean} condition @param {string} message */
function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** @type {WebdriverIO.Browser} */
let browser;

const byId = (/** @type {string} */ id) => browser.$(`[data-testid="${id}"]`);
/**
 * Saves a PNG of the app window. WebKitWebDriver's own screenshot command never answers under Xvfb,
 * so the window is captured from the X display instead (ImageMagick's `import`).
 */
async function shot(/** @type {string} */ name) {
  await browser.pause(300); // let transitions and the progress bar settle
  execFileSync('import', ['-display', env('DISPLAY'), '-window', 'LocalDx', join(OUT, `${name}.png`)], { timeout: 15_000 });
}
async function click(/** @type {string} */ id) {
  const el = await byId(id);
  await el.waitForClickable({ timeout: TIMEOUT });
  await el.click();
}
/** All the text inside an element, including cells scrolled or clamped out of view. */
async function contentOf(/** @type {string} */ id) {
  const el = await byId(id);
  await el.waitForDisplayed({ timeout: TIMEOUT });
  return String(await el.getProperty('textContent'));
}
/** The line numbers in the import result's error table. */
async function errorLines() {
  await (await byId('import-errors')).waitForDisplayed({ timeout: TIMEOUT });
  return browser.execute(() =>
    Array.from(document.querySelectorAll('[data-testid="error-line"]'), (cell) => (cell.textContent ?? '').trim()),
  );
}
/** A part of the spec that cannot run here (its model is absent): said, and counted by
 * scripts/test.sh through $LOCALDX_SKIPPED as the Rust tests' skips are. */
function skipped(/** @type {string} */ why) {
  console.log(`  skip  ${why}`);
  if (process.env.LOCALDX_SKIPPED) appendFileSync(process.env.LOCALDX_SKIPPED, `e2e: ${why}\n`);
}

/** Whether an element with this test id is in the window now (no waiting). */
async function exists(/** @type {string} */ id) {
  return (await browser.$$(`[data-testid="${id}"]`).getElements()).length > 0;
}

async function textOf(/** @type {string} */ id) {
  const el = await byId(id);
  await el.waitForDisplayed({ timeout: TIMEOUT });
  return el.getText();
}

async function main() {
  const csv = writeCsv();
  browser = await remote({
    hostname: '127.0.0.1',
    port: Number(env('E2E_PORT')),
    logLevel: 'warn',
    connectionRetryCount: 2,
    capabilities: {
      // @ts-expect-error tauri-driver's own capability
      'tauri:options': { application: env('E2E_APP') },
      'wdio:enforceWebDriverClassic': true,
    },
  });

  try {
    await test('shell: sidebar navigation and honest empty states', async () => {
      await (await byId('nav-datasets')).waitForDisplayed({ timeout: TIMEOUT });
      for (const [nav, words] of [
        ['review', 'No redaction runs yet'],
        ['training', 'No training runs yet'],
        ['suggestions', 'No model to ask yet'],
        ['reports', 'No evaluations yet'],
      ]) {
        await click(`nav-${nav}`);
        const text = await textOf('empty-state');
        check(text.includes(words), `${nav}: expected "${words}", got "${text}"`);
      }
      // The CSP is enforced at run time: a request to another origin is refused.
      /** @type {string} */
      const violation = await browser.executeAsync((done) => {
        document.addEventListener('securitypolicyviolation', (e) => done(`${e.violatedDirective} ${e.blockedURI}`), { once: true });
        fetch('https://example.org/').catch(() => {});
        setTimeout(() => done('no violation reported'), 5000);
      });
      check(violation.startsWith('connect-src https://example.org'), `the CSP blocks remote fetches, got "${violation}"`);

      await click('nav-datasets');
      const empty = await textOf('empty-state');
      check(empty.includes('No datasets yet'), `a fresh database shows no datasets, got "${empty}"`);
      await shot('empty');
    });

    await test('import: a CSV through the wizard (typed path, preview, mapping, progress, result)', async () => {
      await click('import-button');
      await (await byId('import-path')).setValue(csv.path);
      await (await byId('import-name')).setValue('E2E clinic notes');
      await click('import-preview');
      const table = await contentOf('preview-table');
      check(table.includes('note_id') && table.includes('E2E-001'), `preview shows the header and first row, got "${table.slice(0, 200)}"`);
      await (await byId('map-textColumn')).selectByVisibleText('note');
      await (await byId('map-labelColumn')).selectByVisibleText('diagnosis');
      await (await byId('map-patientColumn')).selectByVisibleText('patient_id');
      await (await byId('map-idColumn')).selectByVisibleText('note_id');
      await shot('import-preview');
      await click('import-start');

      // The bad row refuses the import; the result page lists it by line.
      const refused = await byId('import-result');
      await refused.waitForDisplayed({ timeout: 60_000 });
      const refusedText = await refused.getText();
      check(refusedText.includes('Nothing was imported: 1 row has errors'), `the bad row refuses the import, got "${refusedText}"`);
      const lines = await errorLines();
      check(lines.join() === String(csv.badLine), `the error table lists line ${csv.badLine}, got [${lines}]`);
      await shot('import-refused');

      await click('import-skip-bad');
      await browser.waitUntil(async () => (await (await byId('import-result')).getText()).includes('Imported'), {
        timeout: 60_000,
        timeoutMsg: 'importing without the bad row finishes',
      });
      const text = await textOf('import-result');
      check(text.includes(`Imported ${csv.rows} notes into “E2E clinic notes”`), `result page reports ${csv.rows} notes, got "${text}"`);
      check((await errorLines()).join() === String(csv.badLine), 'the skipped row is still listed by line');
      await shot('import-result');
    });

    await test('browse: the dataset is listed, a record opens, note HTML is shown as text', async () => {
      await click('open-dataset');
      const total = await textOf('record-total');
      check(total.startsWith(`${csv.rows} notes`), `dataset has ${csv.rows} notes, got "${total}"`);
      await click('back-to-datasets');
      const list = await textOf('dataset-list');
      check(list.includes('E2E clinic notes'), `dataset list shows the import, got "${list}"`);
      await shot('datasets');
      await click('dataset-open');

      const firstRow = await browser.$('[data-testid="record-row"]');
      await firstRow.waitForClickable({ timeout: TIMEOUT });
      await firstRow.click();
      const first = await textOf('record-text');
      check(first.includes('Follow-up visit') || first.includes('Itchy rash'), `record text shown, got "${first}"`);

      await (await byId('record-search')).setValue('onerror');
      await browser.waitUntil(async () => (await (await byId('record-total')).getText()).startsWith('1 matching'), {
        timeout: TIMEOUT,
        timeoutMsg: 'searching "onerror" finds exactly the HTML note',
      });
      const match = await browser.$('[data-testid="record-row"]');
      await match.waitForClickable({ timeout: TIMEOUT });
      await match.click();
      await browser.waitUntil(async () => (await (await byId('record-id')).getText()) === 'E2E-HTML', {
        timeout: TIMEOUT,
        timeoutMsg: 'the HTML note opens',
      });
      const shown = await textOf('record-text');
      check(shown === HTML_NOTE, `note text is shown literally:\n  want ${HTML_NOTE}\n  got  ${shown}`);
      const injected = await browser.$$('[data-testid="record-panel"] img, [data-testid="record-panel"] b').getElements();
      check(injected.length === 0, 'no element was created from note text');
      // A blank query (WebDriver cannot type an empty string) shows every note again; the open
      // note stays in the panel.
      await (await byId('record-search')).setValue(' ');
      await browser.waitUntil(async () => (await (await byId('record-total')).getText()).startsWith(`${csv.rows} notes`), {
        timeout: TIMEOUT,
        timeoutMsg: 'clearing the search shows every note again',
      });
      check((await textOf('record-text')) === HTML_NOTE, 'the open note stays shown');
      await shot('record-browser');
    });

    await test('dataset statistics: labels per split, length against the presets, duplicates, warnings', async () => {
      await click('tab-stats');
      await (await byId('stats-labels-chart')).waitForDisplayed({ timeout: TIMEOUT, timeoutMsg: 'the labels chart is drawn' });
      const bars = await browser.$$('[data-testid="stats-labels-chart"] rect').getElements();
      check(bars.length > 0, 'the labels chart has bars');
      await (await byId('stats-length-chart')).waitForDisplayed({ timeout: TIMEOUT });
      const presets = await contentOf('stats-presets');
      check(presets.includes('quick') && presets.includes('thorough'), `each preset's cut is listed, got "${presets}"`);
      const duplicates = await contentOf('stats-duplicates');
      check(/\d+ notes? repeat an earlier one/.test(duplicates), `duplicates are counted, got "${duplicates}"`);
      check((await contentOf('stats-warnings')).length > 0, 'the warnings (or the all-clear) are shown');
      const injected = await browser.$$('[data-testid="dataset-stats"] img, [data-testid="dataset-stats"] b').getElements();
      check(injected.length === 0, 'no element was created from a label or note');
      await shot('dataset-stats');
      await click('tab-notes');
      await (await byId('record-total')).waitForDisplayed({ timeout: TIMEOUT });
    });

    if (SCALE > 0) {
      await test(`scale: ${SCALE.toLocaleString('en-US')} notes import, then the browser jumps, scrolls and searches`, async () => {
        const path = writeLargeCsv(SCALE);
        await click('back-to-datasets');
        await click('import-button');
        await (await byId('import-path')).setValue(path);
        await (await byId('import-name')).setValue('Scale test');
        await click('import-preview');
        await (await byId('map-textColumn')).selectByVisibleText('note');
        await (await byId('map-labelColumn')).selectByVisibleText('diagnosis');
        await (await byId('map-patientColumn')).selectByVisibleText('patient_id');
        await (await byId('map-idColumn')).selectByVisibleText('note_id');
        // Cancel once: the wizard says so and nothing is stored.
        await click('import-start');
        await (await byId('import-progress')).waitForDisplayed({ timeout: TIMEOUT });
        await click('import-cancel');
        const notice = await textOf('import-notice');
        check(notice.includes('cancelled'), `cancelling says so, got "${notice}"`);

        let started = Date.now();
        await click('import-start');
        // The progress bar is fed by backend events while the import runs.
        let sawProgress = false;
        await browser.waitUntil(async () => {
          if (!sawProgress) {
            const now = await browser.execute(() => document.querySelector('[data-testid="import-progress"]')?.getAttribute('aria-valuenow') ?? null);
            if (now !== null && Number(now) > 0 && Number(now) < 100) {
              sawProgress = true;
              await shot('import-progress');
            }
          }
          return (await browser.$('[data-testid="import-result"]').isExisting());
        }, { timeout: 600_000, interval: 200, timeoutMsg: 'the large import finishes' });
        const importMs = Date.now() - started;
        const result = await textOf('import-result');
        check(result.includes(`Imported ${SCALE.toLocaleString('en-US')} notes`), `large import result: "${result.slice(0, 200)}"`);
        check(sawProgress, 'the progress bar moved between 0 and 100% during the import');

        started = Date.now();
        await click('open-dataset');
        await browser.waitUntil(async () => (await (await byId('record-total')).getText()).startsWith(`${SCALE.toLocaleString('en-US')} notes`), {
          timeout: TIMEOUT,
          timeoutMsg: 'the large dataset opens with its total',
        });
        const openMs = Date.now() - started;

        // Jump to the middle: the rows there are fetched and drawn, and the DOM stays small.
        const middle = Math.floor(SCALE / 2);
        started = Date.now();
        await browser.execute((row) => {
          const list = /** @type {HTMLElement} */ (document.querySelector('[data-testid="record-list"]'));
          list.scrollTop = row * 62;
        }, middle);
        const want = `S-${String(middle + 1).padStart(6, '0')}`;
        await browser.waitUntil(
          async () => browser.execute((id) => Array.from(document.querySelectorAll('[data-testid="record-row"] .ext'), (e) => e.textContent).includes(id), want),
          { timeout: TIMEOUT, interval: 20, timeoutMsg: `row ${want} is shown after the jump` },
        );
        const jumpMs = Date.now() - started;
        const domRows = await browser.execute(() => document.querySelectorAll('[data-testid="record-row"]').length);
        check(domRows < 80, `the list is virtualised: ${domRows} rows in the DOM`);

        // Scroll continuously for 120 frames and time them.
        /** @type {number[]} */
        const frames = await browser.executeAsync((done) => {
          const list = /** @type {HTMLElement} */ (document.querySelector('[data-testid="record-list"]'));
          /** @type {number[]} */
          const times = [];
          const step = () => {
            times.push(performance.now());
            list.scrollTop += 1500;
            if (times.length < 121) requestAnimationFrame(step);
            else done(times.slice(1).map((t, i) => t - times[i]));
          };
          requestAnimationFrame(step);
        });
        const sorted = [...frames].sort((a, b) => a - b);
        const p95 = sorted[Math.floor(sorted.length * 0.95)];
        const mean = frames.reduce((a, b) => a + b, 0) / frames.length;

        started = Date.now();
        const token = `R${SCALE - 7}X`;
        await (await byId('record-search')).setValue(token);
        await browser.waitUntil(async () => (await (await byId('record-total')).getText()).startsWith('1 matching'), {
          timeout: 60_000,
          timeoutMsg: `searching ${token} finds one note`,
        });
        const searchMs = Date.now() - started - 250; // minus the search box's debounce
        await (await byId('record-search')).setValue(' ');
        await browser.waitUntil(async () => (await (await byId('record-total')).getText()).startsWith(`${SCALE.toLocaleString('en-US')} notes`), { timeout: TIMEOUT });
        await browser.execute((row) => {
          const list = /** @type {HTMLElement} */ (document.querySelector('[data-testid="record-list"]'));
          list.scrollTop = row * 62;
        }, middle);
        const pick = `S-${String(middle + 3).padStart(6, '0')}`;
        const row = await browser.$(`//div[@data-testid="record-row"][.//span[text()="${pick}"]]`);
        await row.waitForClickable({ timeout: TIMEOUT });
        await row.click();
        await browser.waitUntil(async () => (await (await byId('record-id')).getText()) === pick, { timeout: TIMEOUT });
        await shot('record-browser-large');
        console.log(
          `  scale: import ${SCALE} rows ${(importMs / 1000).toFixed(1)} s; open ${openMs} ms; jump to row ${middle} ${jumpMs} ms; ` +
            `${domRows} rows in the DOM; scroll frames mean ${mean.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms; ` +
            `search ${searchMs} ms (round trip through WebDriver)`,
        );
      });
    }

    if (!existsSync(join(MODELS, 'SmolLM2-135M-Instruct.Q4_1.gguf'))) {
      skipped(`training, suggestions and reports: no default model in ${MODELS}`);
    } else {
      const labelled = writeLabelledCsv();
      await test('training: a tiny model trains from the Training screen, with live progress and a finished run', async () => {
        await click('nav-datasets');
        await click('import-button');
        await (await byId('import-path')).setValue(labelled);
        await (await byId('import-name')).setValue('E2E labelled');
        await click('import-preview');
        await (await byId('map-textColumn')).selectByVisibleText('note');
        await (await byId('map-labelColumn')).selectByVisibleText('diagnosis');
        await (await byId('map-splitColumn')).selectByVisibleText('split');
        await click('import-start');
        await browser.waitUntil(async () => (await browser.$('[data-testid="import-result"]').isExisting()) && (await (await byId('import-result')).getText()).includes('Imported'), {
          timeout: 60_000,
          timeoutMsg: 'the labelled CSV imports',
        });

        // Training reads released versions only: detect PHI, accept it as one bulk decision (which
        // signs off every note left without an undecided span), and release.
        await click('nav-review');
        // Option elements of a closed select report no visible text to WebDriver: read the DOM,
        // waiting for the screen to load its list of datasets.
        const labelledOption = () =>
          browser.execute(() => {
            const options = [...document.querySelectorAll('[data-testid="review-dataset"] option')];
            return /** @type {HTMLOptionElement | undefined} */ (options.find((o) => (o.textContent ?? '').startsWith('E2E labelled')))?.value ?? '';
          });
        await browser.waitUntil(async () => (await labelledOption()) !== '', { timeout: 30_000, timeoutMsg: 'the review screen lists the labelled dataset' });
        const value = await labelledOption();
        check(value !== '', 'the labelled dataset can be reviewed');
        await (await byId('review-dataset')).selectByAttribute('value', value);
        await click('review-detect');
        await (await byId('review-info')).waitForDisplayed({ timeout: 60_000 });
        await (await byId('review-bulk-min')).setValue('0');
        await click('review-bulk-accept');
        await browser.waitUntil(async () => (await textOf('review-info')).includes('bulk decision'), { timeout: 60_000, timeoutMsg: 'the bulk decision is recorded' });
        await browser.waitUntil(async () => (await byId('review-release')).isEnabled(), { timeout: 30_000, timeoutMsg: 'every note is signed off' });
        await click('review-release');
        await (await byId('review-released')).waitForDisplayed({ timeout: 60_000, timeoutMsg: 'the reviewed dataset is released' });

        await click('nav-training');
        const facts = await textOf('model-facts');
        check(facts.includes('on disk') && facts.includes('memory'), `the model shows its size and memory need, got "${facts}"`);
        check((await (await byId('train-dataset')).getValue()) !== '', 'a dataset is chosen');
        await click('preset-quick');
        await (await browser.$('[data-testid="train-advanced"] summary')).click();
        await (await byId('train-epochs')).setValue('2');
        await (await byId('train-rank')).setValue('2');
        await (await byId('train-maxlen')).setValue('32');
        await (await byId('train-layers')).setValue('1');
        const started = Date.now();
        await click('train-start');
        await (await byId('train-live')).waitForDisplayed({ timeout: TIMEOUT });
        // Progress events arrive from the backend while the run trains.
        await browser.waitUntil(async () => Number(await (await byId('train-step')).getText()) > 0, {
          timeout: 120_000,
          interval: 200,
          timeoutMsg: 'the step counter moves',
        });
        await (await byId('train-finished')).waitForDisplayed({ timeout: 120_000, timeoutMsg: 'the run finishes within 2 minutes' });
        const seconds = (Date.now() - started) / 1000;
        check(seconds < 120, `the tiny run took ${seconds.toFixed(0)} s`);
        await (await byId('val-chart')).waitForDisplayed({ timeout: TIMEOUT });
        const val = await textOf('train-val');
        check(/^\d\.\d{3}$/.test(val), `a validation macro-F1 is shown, got "${val}"`);
        await browser.waitUntil(async () => (await contentOf('runs-table')).includes('finished'), { timeout: TIMEOUT, timeoutMsg: 'the runs list shows the finished run' });
        const runsText = await contentOf('runs-table');
        check(runsText.includes('run-1'), `the runs list names the run, got "${runsText}"`);
        await shot('training');
        console.log(`  training: tiny run (2 epochs, rank 2, 32 tokens, last layer) finished in ${seconds.toFixed(1)} s`);
      });

      await test('suggestions: three columns for a test case, feedback stored, a typed note checked for PHI', async () => {
        await click('nav-suggestions');
        await click('sugg-go');
        await browser.waitUntil(async () => (await browser.$$('[data-testid="sugg-col-base"] [data-testid="sugg-row"]').getElements()).length > 0, {
          timeout: 180_000,
          timeoutMsg: 'both models answer',
        });
        const run = await contentOf('sugg-col-run');
        const base = await contentOf('sugg-col-base');
        const gold = await contentOf('sugg-col-gold');
        check(run.includes('%') && base.includes('%'), 'the run and the base model list probabilities');
        check(/[A-Z]\d\d/.test(gold), `the recorded diagnosis is shown, got "${gold}"`);
        await (await browser.$('[data-testid="sugg-col-run"] [data-testid="fb-accept"]')).click();
        await (await browser.$('[data-testid="sugg-col-run"] [data-testid="fb-saved"]')).waitForDisplayed({ timeout: TIMEOUT });
        await (await byId('fb-add-input')).setValue('R05');
        await click('fb-add');
        await (await byId('fb-added')).waitForDisplayed({ timeout: TIMEOUT });
        await shot('suggestions');

        await click('sugg-source-typed');
        await (await byId('sugg-text')).setValue('Seen by Dr. John Smith on 03/02/2024, phone 555-123-4567. Wheezing and tight chest at night, known asthma, uses an inhaler. Denies dermatitis.');
        await click('sugg-go');
        await browser.waitUntil(async () => (await browser.$$('[data-testid="sugg-col-base"] [data-testid="sugg-row"]').getElements()).length > 0, {
          timeout: 180_000,
          timeoutMsg: 'the typed note is scored by both models',
        });
        const phi = await browser.$$('[data-testid="sugg-note"] mark.phi').getElements();
        check(phi.length > 0, 'PHI in the typed note is highlighted');
        // Evidence: every label is listed (4 labels, top 5), each with the words matching its name.
        const texts = async (/** @type {string} */ selector) => {
          const els = await browser.$$(selector).getElements();
          const out = [];
          for (let i = 0; i < els.length; i++) out.push(await els[i].getText());
          return out;
        };
        const evidence = await texts('[data-testid="sugg-col-base"] [data-testid="sugg-evidence"]');
        check(evidence.some((t) => t.includes('asthma') && !t.includes('(denied)')), `asthma is shown as evidence, got ${JSON.stringify(evidence)}`);
        check(evidence.some((t) => /dermatitis\s*\(denied\)/.test(t)), `the denied dermatitis is shown as denied, got ${JSON.stringify(evidence)}`);
        const runTop = await (await browser.$('[data-testid="sugg-col-run"] [data-testid="sugg-row"] .label')).getText();
        const marked = await texts('[data-testid="sugg-note"] mark.evidence');
        if (runTop === 'J45.909') check(marked.includes('asthma'), `the run's top label's evidence is highlighted in the note, got ${JSON.stringify(marked)}`);
        else if (runTop === 'L30.9') check(marked.length === 0, `a denied finding is not highlighted as support, got ${JSON.stringify(marked)}`);
        await shot('suggestions-evidence');
        const gold2 = await contentOf('sugg-col-gold');
        check(gold2.includes('no recorded diagnosis'), 'a typed note has no recorded diagnosis');

        await click('fb-export');
        const notice = await textOf('sugg-notice');
        const csvPath = join(dirname(env('LOCALDX_DB')), 'exports', 'feedback.csv');
        check(notice.includes(csvPath), `the notice names ${csvPath}, got "${notice}"`);
        const rows = readFileSync(csvPath, 'utf8').trim().split('\n');
        check(rows.length === 3 && rows[1].includes(',accept,') && rows[2].includes(',R05,add,'), `feedback CSV: ${rows.join(' | ')}`);
        check(!readFileSync(csvPath, 'utf8').includes('John Smith'), 'the typed note was not stored');
      });

      await test('reports: the run against the base model, exported as HTML and CSV', async () => {
        await click('nav-reports');
        await (await byId('report-vs')).selectByVisibleText('base model (zero-shot)');
        await click('report-build');
        await (await byId('report')).waitForDisplayed({ timeout: 180_000 });
        const head = await contentOf('report');
        for (const words of ['Adapter hash', 'Dataset (data version)', 'Privacy budget', 'Date', 'Micro-F1', 'B − A']) {
          check(head.includes(words), `the report shows "${words}"`);
        }
        check((await contentOf('report-labels')).includes('J45.909'), 'per-label rows are listed');
        await (await byId('report-pr')).waitForDisplayed({ timeout: TIMEOUT });
        await (await byId('report-confusion')).waitForDisplayed({ timeout: TIMEOUT });
        await shot('report');
        await click('report-export-html');
        const written = await textOf('report-exported');
        const html = written.replace(/^Written: /, '');
        check(html.endsWith('.html') && readFileSync(html, 'utf8').startsWith('<!DOCTYPE html>'), `a self-contained HTML file is written, got "${written}"`);
        check(!/<script|https?:\/\//i.test(readFileSync(html, 'utf8')), 'the HTML report has no script and no remote reference');
        await click('report-export-csv');
        await browser.waitUntil(async () => (await textOf('report-exported')).endsWith('.csv'), { timeout: TIMEOUT });
        const csvText = readFileSync((await textOf('report-exported')).replace(/^Written: /, ''), 'utf8');
        check(csvText.includes('metric,micro_f1,') && csvText.includes('label,support,predicted'), 'the CSV has averages and per-label rows');
        await click('report-export-pdf');
        await browser.waitUntil(async () => (await textOf('report-exported')).endsWith('.pdf'), { timeout: 60_000, timeoutMsg: 'the PDF report is written' });
        const pdfText = execFileSync('pdftotext', [(await textOf('report-exported')).replace(/^Written: /, ''), '-'], { encoding: 'utf8' });
        check(pdfText.includes('run-1') && pdfText.includes('Micro-F1') && pdfText.includes('J45.909'), `the PDF report holds the run, its metrics and labels, got "${pdfText.slice(0, 300)}"`);
      });

      await test('model in use: the run is promoted from its report, and Suggestions choose it by default', async () => {
        check((await contentOf('report-in-use')).includes('No run is in use'), 'nothing is in use before a promotion');
        await (await byId('report-promote-reason')).setValue('beats the base model on the test split');
        await click('report-promote');
        await browser.waitUntil(async () => (await contentOf('report-in-use')).includes('run-1 is in use'), { timeout: 120_000, timeoutMsg: 'the promotion is shown' });
        const inUse = await contentOf('report-in-use');
        check(inUse.includes('run-1') && inUse.includes('beats the base model') && /macro-F1 \d/.test(inUse), `the run in use, its reason and test figure, got "${inUse}"`);
        await (await byId('report-demote')).waitForDisplayed({ timeout: TIMEOUT, timeoutMsg: 'the run in use can be withdrawn' });
        await browser.execute(() => document.querySelector('[data-testid="report-use"]')?.scrollIntoView({ block: 'start' }));
        await shot('report-promoted');
        await click('report-model-card');
        await browser.waitUntil(async () => (await textOf('report-exported')).endsWith('-model-card.pdf'), { timeout: 60_000, timeoutMsg: 'the model card is written' });
        // Read back as text by poppler's pdftotext, as a regulator's tools would.
        const card = execFileSync('pdftotext', [(await textOf('report-exported')).replace(/^Written: /, ''), '-'], { encoding: 'utf8' });
        check(card.includes('Model card: run-1') && card.includes('Promoted by') && card.includes('Known failure modes'), `the model card PDF names the run, its promotion and its failure modes, got "${card.slice(0, 300)}"`);
        await click('nav-suggestions');
        const chosen = await (await byId('sugg-run')).getValue();
        const label = await (await browser.$('[data-testid="sugg-run"] option:checked')).getText();
        check(chosen === 'run-1' && label.includes('in use'), `the run in use is chosen by default, got "${chosen}" ("${label}")`);
      });

      await test('monitoring: the suggestions shown are logged by week, with drift figures and an alert band the admin sets', async () => {
        await click('nav-monitoring');
        await (await byId('monitor-model')).waitForDisplayed({ timeout: TIMEOUT, timeoutMsg: 'the models that suggested are listed' });
        const models = await browser.$$('[data-testid="monitor-model"]').getElements();
        check(models.length >= 1, `a model is watched, got ${models.length}`);
        const weeks = await contentOf('monitor-weeks');
        check(/\d{4}-\d{2}-\d{2}/.test(weeks), `a week row, got "${weeks.slice(0, 200)}"`);
        await (await byId('monitor-quality-chart')).waitForDisplayed({ timeout: TIMEOUT });
        await (await byId('monitor-max-psi')).setValue('0.2');
        await click('monitor-save');
        await (await byId('monitor-saved')).waitForDisplayed({ timeout: TIMEOUT, timeoutMsg: 'the thresholds are saved' });
        await shot('monitoring');
      });

      await test('retrain from feedback: the verdicts become a dataset, reviewed and released, and a successor is compared with the run in use', async () => {
        await click('nav-training');
        await (await byId('retrain-from')).selectByAttribute('value', 'run-1');
        await click('retrain-feedback');
        const made = await textOf('retrain-made');
        const id = /Dataset (\d+)/.exec(made)?.[1] ?? '';
        check(id !== '' && /from \d+ verdicts/.test(made), `the feedback became a dataset, got "${made}"`);
        // Like any import: reviewed and released before anything trains on it.
        await click('nav-review');
        await (await byId('review-dataset')).selectByAttribute('value', id);
        await click('review-detect');
        await (await byId('review-info')).waitForDisplayed({ timeout: 60_000 });
        await (await byId('review-bulk-min')).setValue('0');
        await click('review-bulk-accept');
        await browser.waitUntil(async () => (await byId('review-release')).isEnabled(), { timeout: 30_000, timeoutMsg: 'every feedback note is signed off' });
        await click('review-release');
        await (await byId('review-released')).waitForDisplayed({ timeout: 60_000, timeoutMsg: 'the feedback dataset is released' });
        await click('nav-training');
        await (await byId('retrain-from')).selectByAttribute('value', 'run-1');
        const releases = await browser.$$('[data-testid="retrain-with"] option').getElements();
        await (await byId('retrain-with')).selectByIndex(releases.length - 1);
        await click('retrain-start');
        const liveText = async () => ((await exists('train-live')) ? await contentOf('train-live') : '');
        await browser.waitUntil(async () => (await exists('retrain-comparison')) || (await exists('train-error')) || (await liveText()).includes('failed'), { timeout: 180_000, timeoutMsg: 'the successor is trained and compared' });
        check(await exists('retrain-comparison'), `the successor is compared, got error "${(await exists('train-error')) ? await textOf('train-error') : ''}", live "${(await liveText()).slice(0, 400)}"`);
        const text = await contentOf('retrain-comparison');
        check(text.includes('against run-1') && text.includes('held-out notes') && text.includes('left out'), `the successor is compared with the run in use on held-out notes, got "${text}"`);
        if (await exists('retrain-promote')) {
          await (await byId('retrain-reason')).setValue('not worse on held-out notes, trained on feedback');
          await click('retrain-promote');
          await (await byId('retrain-promoted')).waitForDisplayed({ timeout: 60_000, timeoutMsg: 'the successor is promoted' });
        } else {
          check(await exists('retrain-not-offered'), 'a worse successor says it is not offered');
        }
        await shot('retrain');
      });
    }

    if (!existsSync(join(MODELS, 'all-MiniLM-L6-v2', 'model.safetensors'))) {
      check(process.env.CI !== 'true', `the PHI tagger's encoder is in ${MODELS} (run scripts/fetch-models.sh)`);
      skipped(`detector retraining: no PHI tagger encoder in ${MODELS}`);
    } else {
      await test('review: "Retrain detector" learns from signed-off notes, measured on gold before and after, with progress', async () => {
        const names = ['Ines Okonkwo', 'Tomasz Lindqvist', 'Aroha Tawhiri', 'Kwame Mensah', 'Lucia Ferreira', 'Bjorn Haugen'];
        const lines = ['note,diagnosis'];
        for (let i = 0; i < 12; i++) lines.push(`"Referral KV${1000 + i * 37}Q received. ${names[i % names.length]} reports cough; review in clinic.",J45.909`);
        const path = join(WORK, 'e2e-retrain.csv');
        writeFileSync(path, lines.join('\n') + '\n');
        await click('nav-datasets');
        await click('import-button');
        await (await byId('import-path')).setValue(path);
        await (await byId('import-name')).setValue('E2E retrain');
        await click('import-preview');
        await (await byId('map-textColumn')).selectByVisibleText('note');
        await (await byId('map-labelColumn')).selectByVisibleText('diagnosis');
        await click('import-start');
        await browser.waitUntil(async () => (await browser.$('[data-testid="import-result"]').isExisting()) && (await (await byId('import-result')).getText()).includes('Imported'), {
          timeout: 60_000,
          timeoutMsg: 'the retraining CSV imports',
        });
        await click('nav-review');
        const option = () =>
          browser.execute(() => {
            const options = [...document.querySelectorAll('[data-testid="review-dataset"] option')];
            return /** @type {HTMLOptionElement | undefined} */ (options.find((o) => (o.textContent ?? '').startsWith('E2E retrain')))?.value ?? '';
          });
        await browser.waitUntil(async () => (await option()) !== '', { timeout: 30_000, timeoutMsg: 'the review screen lists the retraining dataset' });
        await (await byId('review-dataset')).selectByAttribute('value', await option());
        await click('review-detect');
        await browser.waitUntil(async () => (await textOf('review-info')).includes('rules + tagger'), { timeout: 120_000, timeoutMsg: 'detection ran the rules and the tagger' });
        await (await byId('review-bulk-min')).setValue('0');
        await click('review-bulk-accept');
        await browser.waitUntil(async () => (await textOf('review-info')).includes('bulk decision'), { timeout: 60_000, timeoutMsg: 'the bulk decision is recorded' });
        await click('tab-quality');
        await (await byId('gold-size')).setValue('4');
        await (await byId('gold-seed')).setValue('3');
        await click('gold-sample');
        await browser.waitUntil(async () => (await textOf('quality-info')).includes('Drew 4 notes'), { timeout: 30_000, timeoutMsg: 'a gold sample is drawn' });
        await click('retrain-detector');
        await (await byId('retrain-progress')).waitForDisplayed({ timeout: TIMEOUT });
        await (await byId('retrain-result')).waitForDisplayed({ timeout: 300_000, timeoutMsg: 'the retraining finishes' });
        const result = await textOf('retrain-result');
        check(/gold token recall (would drop )?[0-9.]+ -> [0-9.]+ on 4 notes/.test(result), `the result gives gold recall before and after, got "${result}"`);
        check(result.includes('Trained on 7 notes') && result.includes('on 1 held-back notes'), `gold notes are not trained on; every fifth signed-off note chooses the threshold, got "${result}"`);
        const versions = await textOf('detector-versions');
        const kept = !result.includes('not kept');
        check(versions.includes(kept ? '(in use)' : 'no'), `the version is listed as ${kept ? 'in use' : 'not kept'}, got "${versions}"`);
        await shot('retrain-detector');
      });
    }

    await test('hostile input: script and HTML in a file name, a dataset name, a label, a note and the search box never run', async () => {
      // Each payload sets a marker when it runs; none may, and no element may come of one.
      const payload = (/** @type {string} */ where) => `<img src=x onerror="window.__xss='${where}'">`;
      const dir = join(WORK, '<b>hostile</b>');
      execFileSync('mkdir', ['-p', dir]);
      const path = join(dir, `${payload('file')}.csv`.replaceAll('/', '_'));
      const note = `Rash again. ${payload('note')} <script>window.__xss='script'</script> Plan: review.`;
      const label = `<svg onload="window.__xss='label'">`;
      const rows = ['note,diagnosis', `"${note.replaceAll('"', '""')}","${label.replaceAll('"', '""')}"`, '"Cough for two days.",J06.9'];
      writeFileSync(path, rows.join('\n') + '\n');
      const name = `${payload('name')} clinic`;
      await click('nav-datasets');
      await click('import-button');
      await (await byId('import-path')).setValue(path);
      await (await byId('import-name')).setValue(name);
      await click('import-preview');
      await (await byId('preview-table')).waitForDisplayed({ timeout: TIMEOUT });
      await (await byId('map-textColumn')).selectByVisibleText('note');
      await (await byId('map-labelColumn')).selectByVisibleText('diagnosis');
      await click('import-start');
      await browser.waitUntil(async () => (await (await byId('import-result')).getText()).includes('Imported'), {
        timeout: 60_000,
        timeoutMsg: 'the hostile file imports',
      });
      check((await textOf('import-result')).includes(name), 'the result names the dataset literally');
      await click('open-dataset');
      const row = await browser.$('[data-testid="record-row"]');
      await row.waitForClickable({ timeout: TIMEOUT });
      await (await byId('record-search')).setValue(payload('search'));
      await (await byId('record-search')).setValue('Rash');
      await browser.waitUntil(async () => (await (await byId('record-total')).getText()).startsWith('1 matching'), {
        timeout: TIMEOUT,
        timeoutMsg: 'the search finds the hostile note',
      });
      const match = await browser.$('[data-testid="record-row"]');
      await match.waitForClickable({ timeout: TIMEOUT });
      await match.click();
      await browser.waitUntil(async () => (await textOf('record-text')) === note, { timeout: TIMEOUT, timeoutMsg: 'the hostile note is shown literally' });
      await click('back-to-datasets');
      const list = await textOf('dataset-list');
      check(list.includes(name), `the dataset list shows the name literally, got "${list.slice(0, 300)}"`);
      /** @type {{ marker: unknown, injected: number }} */
      const after = await browser.execute(() => ({
        // WebDriver returns undefined as null: the type tells them apart.
        // @ts-expect-error the marker a payload would set
        marker: typeof window.__xss === 'undefined' ? 'unset' : String(window.__xss),
        injected:
          document.querySelectorAll('img[src="x"], svg[onload]').length + Array.from(document.scripts).filter((e) => (e.textContent ?? '').includes('__xss')).length,
      }));
      check(after.marker === 'unset', `a payload ran: window.__xss = ${String(after.marker)}`);
      check(after.injected === 0, `${after.injected} elements were made from hostile text`);
      await shot('hostile-input');
    });

    // Last, because the native dialog is modal and WebDriver cannot close it.
    await test('import: "Browse…" opens the native file dialog', async () => {
      await click('nav-datasets');
      await click('import-button');
      await click('import-browse');
      let windows = '';
      await browser.waitUntil(
        async () => {
          windows = execFileSync('xwininfo', ['-root', '-tree', '-display', env('DISPLAY')]).toString();
          return windows.includes('"Choose notes to import"');
        },
        { timeout: TIMEOUT, timeoutMsg: 'a window titled "Choose notes to import" appears' },
      );
      await browser.pause(1500); // let GTK draw the dialog
      execFileSync('import', ['-display', env('DISPLAY'), '-window', 'root', join(OUT, 'native-dialog.png')], { timeout: 15_000 });
    });
  } finally {
    await browser.deleteSession().catch(() => {});
  }
}

main()
  .catch((e) => {
    console.log(`  FAIL  session: ${e instanceof Error ? e.message : String(e)}`);
    results.push({ name: 'session', ok: false });
  })
  .finally(() => {
    const passed = results.filter((r) => r.ok).length;
    const failed = results.length - passed;
    console.log(`e2e: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 && passed > 0 ? 0 : 1);
  });
