// @ts-check
// The accounts scenario of the redaction review, run by tests/e2e/run.sh against the real desktop
// binary on a database path where nothing exists yet: the first-run screen creates the encrypted
// database and its administrator, who adds a steward and a clinician; the steward imports notes
// (one with a known name), runs detection, reviews a note by keyboard only, signs it off,
// bulk-accepts the rest and releases; the clinician reads the redacted release and is refused the
// raw text; the administrator finds every step in the audit trail and verifies its chain. A wrong
// password is refused with a clear message. Prints `e2e accounts: N passed, M failed`.
import { remote } from 'webdriverio';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = (/** @type {string} */ name) => {
  const value = process.env[name];
  if (!value) throw new Error(`e2e: ${name} is not set (run tests/e2e/run.sh)`);
  return value;
};
const OUT = env('E2E_OUT');
const WORK = env('E2E_WORK');
const DB = env('LOCALDX_DB');
const TIMEOUT = 20_000;

const ADMIN = { user: 'ada', password: 'ada-password-1' };
const STEWARD = { user: 'sam', password: 'sam-password-1' };
const CLINICIAN = { user: 'cleo', password: 'cleo-password-1' };
/** The name written into the first note: the steward sees it, the release must not hold it. */
const KNOWN = 'Zebulon Quackenbush';
const DATASET = 'E2E accounts notes';

/** Three notes; the first carries the known name, the second a date and a phone number. */
function writeCsv() {
  const lines = [
    'note_id,patient_id,note,diagnosis',
    `A-001,P1,"Seen by Dr. ${KNOWN} on 10/18/2003. Wheezing at night, uses an inhaler.",J45.909`,
    'A-002,P2,"Follow-up on 03/02/2024, call back on 555-123-4567. Blood pressure 138/88.",I10',
    'A-003,P3,"Itchy rash on both forearms. Plan: topical steroid.",L30.9',
  ];
  const path = join(WORK, 'accounts-notes.csv');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** @type {{name: string, ok: boolean}[]} */
const results = [];
let stop = false;

/** Runs one step; the steps depend on each other, so the first failure skips the rest. */
async function test(/** @type {string} */ name, /** @type {() => Promise<void>} */ body) {
  if (stop) {
    console.log(`  skip  ${name} (an earlier step failed)`);
    results.push({ name, ok: false });
    return;
  }
  const started = Date.now();
  try {
    await body();
    results.push({ name, ok: true });
    console.log(`  ok    ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    stop = true;
    console.log(`  FAIL  ${name}: ${e instanceof Error ? e.message : String(e)}`);
    await shot(`failed-accounts-${results.length}`).catch(() => {});
  }
}

/** @param {boolean} condition @param {string} message */
function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** @type {WebdriverIO.Browser} */
let browser;
const byId = (/** @type {string} */ id) => browser.$(`[data-testid="${id}"]`);
/** A PNG of the app window, from the X display (WebKitWebDriver's screenshot never answers under Xvfb). */
async function shot(/** @type {string} */ name) {
  await browser.pause(300);
  execFileSync('import', ['-display', env('DISPLAY'), '-window', 'LocalDx', join(OUT, `${name}.png`)], { timeout: 15_000 });
}
async function click(/** @type {string} */ id) {
  const el = await byId(id);
  await el.waitForClickable({ timeout: TIMEOUT });
  await el.click();
}
async function type(/** @type {string} */ id, /** @type {string} */ value) {
  const el = await byId(id);
  await el.waitForDisplayed({ timeout: TIMEOUT });
  await el.setValue(value);
}
/** All the text inside an element, including what is scrolled out of view. */
async function contentOf(/** @type {string} */ id) {
  const el = await byId(id);
  await el.waitForDisplayed({ timeout: TIMEOUT });
  return String(await el.getProperty('textContent'));
}
async function exists(/** @type {string} */ id) {
  return (await browser.$$(`[data-testid="${id}"]`).getElements()).length > 0;
}
async function login(/** @type {{user: string, password: string}} */ who) {
  await type('login-user', who.user);
  await type('login-password', who.password);
  await click('login-submit');
  await browser.waitUntil(async () => (await exists('session-user')) && (await contentOf('session-user')) === who.user, {
    timeout: 60_000,
    timeoutMsg: `${who.user} is logged in`,
  });
}
async function logout() {
  await click('session-logout');
  await (await byId('login-user')).waitForDisplayed({ timeout: TIMEOUT });
}
/** The navigation entries shown, by id. */
async function navItems() {
  return browser.execute(() => Array.from(document.querySelectorAll('[data-testid^="nav-"]'), (e) => e.getAttribute('data-testid') ?? ''));
}
async function undecided() {
  return parseInt(await contentOf('review-undecided'), 10);
}

async function main() {
  const csv = writeCsv();
  check(!existsSync(DB), `the scenario starts with nothing at ${DB}`);
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
    await test('first run: the administrator creates the encrypted database', async () => {
      await (await byId('first-run')).waitForDisplayed({ timeout: TIMEOUT });
      const rules = await contentOf('firstrun-rules');
      check(/At least \d+ characters/.test(rules), `the password rules are shown, got "${rules}"`);
      await type('firstrun-user', ADMIN.user);
      await type('firstrun-password', ADMIN.password);
      await type('firstrun-password2', `${ADMIN.password}x`);
      await click('firstrun-create');
      check((await contentOf('firstrun-error')).includes('differ'), 'two different passwords are refused');
      await type('firstrun-password2', ADMIN.password);
      await shot('first-run');
      await click('firstrun-create');
      await browser.waitUntil(async () => (await exists('session-user')) && (await contentOf('session-user')) === ADMIN.user, {
        timeout: 60_000,
        timeoutMsg: 'the administrator is logged in after the first run',
      });
      check((await contentOf('session-role')) === 'admin', 'the first user is an admin');
      check(existsSync(DB) && existsSync(`${DB}.keys`), 'the database and its key file exist');
      check(!readFileSync(DB).subarray(0, 16).toString('latin1').startsWith('SQLite format 3'), 'the database file is encrypted');
      const nav = await navItems();
      check(nav.includes('nav-accounts') && nav.includes('nav-audit'), `an admin sees Accounts and Audit, got ${nav}`);
    });

    await test('accounts: the admin adds a steward and a clinician', async () => {
      await click('nav-accounts');
      for (const [who, role] of /** @type {const} */ ([[STEWARD, 'steward'], [CLINICIAN, 'clinician']])) {
        await type('add-user-name', who.user);
        await (await byId('add-user-role')).selectByAttribute('value', role);
        await type('add-user-password', who.password);
        await type('add-user-password2', who.password);
        await click('add-user-submit');
        await browser.waitUntil(async () => (await contentOf('accounts-notice')).includes(`Added ${who.user} as ${role}`), {
          timeout: 30_000,
          timeoutMsg: `${who.user} is added`,
        });
      }
      const rows = await browser.execute(() =>
        Array.from(document.querySelectorAll('[data-testid="user-row"]'), (r) => Array.from(r.querySelectorAll('td'), (td) => (td.textContent ?? '').trim()).slice(0, 5).join('|')),
      );
      check(rows.length === 3, `three accounts are listed, got ${JSON.stringify(rows)}`);
      check(rows.some((r) => r.startsWith('sam|steward|') && r.endsWith('|ada|active')), `the steward row, got ${JSON.stringify(rows)}`);
      check(rows.some((r) => r.startsWith('cleo|clinician|') && r.endsWith('|ada|active')), `the clinician row, got ${JSON.stringify(rows)}`);
      await shot('accounts');
    });

    await test('login: a wrong password shows the error; the steward logs in and sees no admin areas', async () => {
      await logout();
      await type('login-user', STEWARD.user);
      await type('login-password', 'not-the-password');
      await click('login-submit');
      await (await byId('login-error')).waitForDisplayed({ timeout: 30_000 });
      const error = await contentOf('login-error');
      check(error.includes('wrong password'), `a wrong password is named, got "${error}"`);
      await shot('login');
      await login(STEWARD);
      check((await contentOf('session-role')) === 'steward', 'the steward has the steward role');
      const nav = await navItems();
      check(nav.includes('nav-review') && !nav.includes('nav-accounts') && !nav.includes('nav-audit'), `a steward sees review, not accounts or audit, got ${nav}`);
    });

    await test('steward: import, detect, review a note by keyboard, sign off, bulk-accept the rest, release', async () => {
      await click('nav-datasets');
      await click('import-button');
      await type('import-path', csv);
      await type('import-name', DATASET);
      await click('import-preview');
      await (await byId('map-textColumn')).selectByVisibleText('note');
      await (await byId('map-labelColumn')).selectByVisibleText('diagnosis');
      await (await byId('map-patientColumn')).selectByVisibleText('patient_id');
      await (await byId('map-idColumn')).selectByVisibleText('note_id');
      await click('import-start');
      await browser.waitUntil(async () => (await exists('import-result')) && (await contentOf('import-result')).includes('Imported 3 notes'), {
        timeout: 60_000,
        timeoutMsg: 'the three notes are imported',
      });

      await click('nav-review');
      const option = () =>
        browser.execute((name) => {
          const options = [...document.querySelectorAll('[data-testid="review-dataset"] option')];
          return /** @type {HTMLOptionElement | undefined} */ (options.find((o) => (o.textContent ?? '').startsWith(name)))?.value ?? '';
        }, DATASET);
      await browser.waitUntil(async () => (await option()) !== '', { timeout: TIMEOUT, timeoutMsg: 'the review screen lists the dataset' });
      await (await byId('review-dataset')).selectByAttribute('value', await option());
      await click('review-detect');
      await (await byId('review-info')).waitForDisplayed({ timeout: 60_000 });
      await (await byId('review-text')).waitForDisplayed({ timeout: TIMEOUT });
      check((await contentOf('review-text')).includes(KNOWN), 'the steward sees the raw note with the name');
      const spans = await undecided();
      check(spans > 0, 'detection found PHI in the first note');
      const name = await browser.execute(
        (known) => Array.from(document.querySelectorAll('[data-testid="review-text"] [data-type]'), (e) => e.textContent ?? '').some((t) => known.includes(t) && t.length > 3),
        KNOWN,
      );
      check(name, 'the name is one of the detected spans');

      // Keyboard only: the focus leaves the dataset picker (keys typed into a field are the
      // field's), then Enter accepts and advances on every span, and `s` signs the note off.
      await browser.execute(() => /** @type {HTMLElement | null} */ (document.activeElement)?.blur());
      const position = await contentOf('review-position');
      for (let left = spans - 1; left >= 0; left--) {
        await browser.keys('Enter');
        await browser.waitUntil(async () => (await undecided()) === left, { timeout: TIMEOUT, timeoutMsg: `Enter leaves ${left} undecided` });
      }
      await browser.keys('s');
      await browser.waitUntil(async () => (await exists('review-position')) && (await contentOf('review-position')) !== position, {
        timeout: TIMEOUT,
        timeoutMsg: 's signs the note off and shows the next one',
      });
      check(!(await contentOf('review-text')).includes(KNOWN), 'the next open note is another one');

      await (await byId('review-bulk-min')).setValue('0');
      await click('review-bulk-accept');
      await browser.waitUntil(async () => (await contentOf('review-info')).includes('bulk decision'), { timeout: 60_000, timeoutMsg: 'the bulk decision is recorded' });
      await browser.waitUntil(async () => (await byId('review-release')).isEnabled(), { timeout: 30_000, timeoutMsg: 'every note is signed off' });
      await click('review-release');
      await (await byId('review-released')).waitForDisplayed({ timeout: 60_000, timeoutMsg: 'the dataset is released' });
    });

    await test('clinician: the released text is shown without the name; the raw text is refused', async () => {
      await logout();
      await login(CLINICIAN);
      const nav = await navItems();
      check(nav.includes('nav-released') && !nav.includes('nav-review') && !nav.includes('nav-training') && !nav.includes('nav-audit'), `a clinician's areas, got ${nav}`);
      await click('nav-released');
      await click('released-open');
      await browser.waitUntil(async () => (await browser.$$('[data-testid="released-text"]').getElements()).length === 3, {
        timeout: TIMEOUT,
        timeoutMsg: 'the three released notes are shown',
      });
      const texts = await browser.execute(() => Array.from(document.querySelectorAll('[data-testid="released-text"]'), (e) => e.textContent ?? ''));
      check(texts.some((t) => t.includes('Wheezing at night')), `the redacted note is readable, got ${JSON.stringify(texts)}`);
      check(!texts.some((t) => t.includes('Quackenbush') || t.includes('Zebulon')), `the name is gone from the release, got ${JSON.stringify(texts)}`);
      check(!texts.some((t) => t.includes('555-123-4567')), 'the phone number is gone too');
      await shot('released');

      // The raw record browser, opened from the dataset list: the backend refuses, the screen says so.
      await click('nav-datasets');
      check(!(await exists('import-button')), 'a clinician is offered no import');
      const open = await browser.$(`//button[@data-testid="dataset-open"][normalize-space()="${DATASET}"]`);
      await open.waitForClickable({ timeout: TIMEOUT });
      await open.click();
      const refusal = await browser.$('div.alert[role="alert"]');
      await refusal.waitForDisplayed({ timeout: TIMEOUT });
      const message = await refusal.getText();
      check(message.startsWith('Not permitted: clinician accounts may not'), `the refusal is clear, got "${message}"`);
      check(!(await exists('record-text')), 'no raw note text is shown');
      const body = String(await browser.execute(() => document.body.textContent ?? ''));
      check(!body.includes('Quackenbush'), 'the name appears nowhere in the window');

      // The matrix through the real Tauri commands, called from the window as the clinician (as a
      // script in the page could): every steward or admin command is refused by the backend.
      /** @type {string[]} */
      const answers = await browser.executeAsync((done) => {
        /** @type {[string, Record<string, unknown>][]} */
        const calls = [
          ['list_records', { datasetId: 1, offset: 0, limit: 10, search: null }],
          ['get_record', { id: 1 }],
          ['test_cases', { datasetId: 1 }],
          ['review_note', { recordId: 1 }],
          ['review_counts', { datasetId: 1 }],
          ['review_decide', { spanId: 1, decision: { kind: 'accept' } }],
          ['review_terms', {}],
          ['gold_sample', { datasetId: 1, size: 1, seed: 1 }],
          ['review_quality', { datasetId: 1 }],
          ['release_dataset', { datasetId: 1, strategy: 'tag' }],
          ['list_users', {}],
          ['add_user', { name: 'mallory', role: 'admin', password: 'a long enough password' }],
          ['audit_list', { filter: {} }],
          ['audit_verify', {}],
          ['promote_run', { runId: 'run-1', reason: 'a clinician may not choose the model' }],
          ['demote_run', { datasetId: 1, reason: 'nor withdraw it' }],
          ['dataset_stats', { datasetId: 1 }],
          ['set_monitor_thresholds', { thresholds: { minSuggestions: 1, minAcceptance: 0, minTop5: 0, maxPsi: 9, maxUnseen: 1, maxCalibrationGap: 1 } }],
          ['list_datasets', {}],
        ];
        // @ts-expect-error Tauri's own bridge, present in the app's window
        const invoke = window.__TAURI_INTERNALS__.invoke;
        Promise.all(
          calls.map(([cmd, args]) =>
            invoke(cmd, args).then(
              () => `${cmd}: allowed`,
              (/** @type {any} */ e) => `${cmd}: ${e?.code ?? JSON.stringify(e)}`,
            ),
          ),
        ).then(done);
      });
      const wrong = answers.filter((a) => !(a.startsWith('list_datasets') ? a.endsWith(': allowed') : a.endsWith(': forbidden')));
      check(wrong.length === 0, `each steward or admin command refused as forbidden (list_datasets allowed), got ${JSON.stringify(wrong)}`);
    });

    await test('admin: the audit trail lists the logins, decisions and release; the chain is intact; export', async () => {
      await logout();
      await login(ADMIN);
      await click('nav-audit');
      await (await byId('audit-row')).waitForDisplayed({ timeout: TIMEOUT });
      const rows = await browser.execute(() =>
        Array.from(document.querySelectorAll('[data-testid="audit-row"]'), (r) => Array.from(r.querySelectorAll('td'), (td) => (td.textContent ?? '').trim())),
      );
      const has = (/** @type {string} */ actor, /** @type {string} */ action) => rows.some((r) => r[2] === actor && r[3] === action);
      for (const [actor, action] of [
        ['ada', 'user.add'], ['sam', 'login'], ['sam', 'review.accept'], ['sam', 'review.sign_off'], ['sam', 'review.bulk_accept'],
        ['sam', 'release'], ['sam', 'logout'], ['cleo', 'login'], ['ada', 'login'],
      ]) {
        check(has(actor, action), `the trail has ${actor} ${action}: ${rows.map((r) => `${r[2]} ${r[3]}`).join(', ')}`);
      }
      const seqs = rows.map((r) => Number(r[0]));
      check(seqs.every((s, i) => i === 0 || s < seqs[i - 1]), 'newest first');

      // The steward's login after the wrong password carries the failed attempt.
      const samLogin = await browser.$(`//tr[@data-testid="audit-row"][td[3][normalize-space()="sam"] and td[4][normalize-space()="login"]]/td[5]`);
      await samLogin.scrollIntoView();
      await samLogin.click();
      const detail = await contentOf('audit-detail');
      check(/"failedAttemptsBefore": 1/.test(detail), `the failed attempt is recorded at the next login, got "${detail}"`);

      await click('audit-verify');
      await browser.waitUntil(async () => (await exists('audit-verdict')) && (await contentOf('audit-verdict')).startsWith('Chain intact'), {
        timeout: TIMEOUT,
        timeoutMsg: 'the chain verifies intact',
      });
      await shot('audit');
      await type('audit-filter-action', 'review.');
      await click('audit-apply');
      await browser.waitUntil(
        async () => {
          const actions = await browser.execute(() => Array.from(document.querySelectorAll('[data-testid="audit-row"] td:nth-child(4)'), (td) => (td.textContent ?? '').trim()));
          return actions.length > 0 && actions.every((a) => a.startsWith('review.'));
        },
        { timeout: TIMEOUT, timeoutMsg: 'the action filter keeps review entries only' },
      );

      await click('audit-export-csv');
      await browser.waitUntil(async () => (await exists('audit-exported')) && (await contentOf('audit-exported')).includes('.csv'), { timeout: TIMEOUT });
      const written = (await contentOf('audit-exported')).replace(/^Written: /, '').replace(/ \(\d+ entries\)$/, '');
      const lines = readFileSync(written, 'utf8').trim().split('\n');
      check(lines[0] === 'seq,at,actor,action,subject,before,after,reason,prev_hash,hash', `the CSV header, got "${lines[0]}"`);
      check(lines.length > 1 && lines.slice(1).every((l) => l.split(',')[3].startsWith('review.')), 'the CSV holds the filtered entries');
      check(!readFileSync(written, 'utf8').includes('Quackenbush'), 'the audit export holds no note text');
      // The export is itself in the trail.
      await type('audit-filter-action', 'audit.export');
      await click('audit-apply');
      await browser.waitUntil(async () => (await contentOf('audit-table')).includes(`file:${written}`), { timeout: TIMEOUT, timeoutMsg: 'the export is audited' });
    });

    await test('accounts: the admin disables the clinician with a reason and changes their own password', async () => {
      await click('nav-accounts');
      await click(`disable-${CLINICIAN.user}`);
      await type('disable-reason', 'left the clinic');
      await click('disable-confirm');
      await browser.waitUntil(async () => (await exists('accounts-notice')) && (await contentOf('accounts-notice')).startsWith(`Disabled ${CLINICIAN.user}`), {
        timeout: TIMEOUT,
        timeoutMsg: 'the clinician is disabled',
      });
      const row = await contentOf('users-table');
      check(/cleo\s*clinician.*disabled/s.test(row), `the clinician is listed as disabled, got "${row}"`);

      const changed = `${ADMIN.password}-new`;
      await click('session-password');
      await type('pw-current', ADMIN.password);
      await type('pw-new', changed);
      await type('pw-again', changed);
      await click('pw-save');
      await (await byId('password-changed')).waitForDisplayed({ timeout: 30_000 });

      await logout();
      await type('login-user', CLINICIAN.user);
      await type('login-password', CLINICIAN.password);
      await click('login-submit');
      await (await byId('login-error')).waitForDisplayed({ timeout: 30_000 });
      check((await contentOf('login-error')).length > 0, 'a disabled account cannot log in');
      await login({ user: ADMIN.user, password: changed });
      await click('nav-audit');
      await click('audit-verify');
      await browser.waitUntil(async () => (await exists('audit-verdict')) && (await contentOf('audit-verdict')).startsWith('Chain intact'), { timeout: TIMEOUT });
      const table = await contentOf('audit-table');
      check(table.includes('user.disable') && table.includes('user.password') && table.includes('left the clinic'), 'the disable (with its reason) and the password change are audited');
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
    console.log(`e2e accounts: ${passed} passed, ${failed} failed`);
    process.exit(failed === 0 && passed > 0 ? 0 : 1);
  });
