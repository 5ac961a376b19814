// browser.mjs — `perfweave preview` in a real headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core): one long-lived page that is never reloaded by hand.  An edit of a
// chapter's prose must appear in the page's DOM within 2 s; a broken directive must show its
// file:line message in the overlay over the last good report; the fix must clear it; a changed
// directive must show its previous result marked stale and the measuring progress, and then the
// new result, the page reloading by itself; a crashing renderer must be shown too; and a rebuilt
// binary must take over the same port, with the page reloading by itself.  Run by tests/e2e/preview/run.sh, which starts the server; settings come
// from the environment (PREVIEW_URL, PREVIEW_CHAPTER, PREVIEW_BIN, PREVIEW_REAL_BIN).
import { chromium } from 'playwright-core';
import { copyFileSync, chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const url = process.env.PREVIEW_URL;
const chapter = process.env.PREVIEW_CHAPTER;
const bin = process.env.PREVIEW_BIN;
const realBin = process.env.PREVIEW_REAL_BIN;
let passed = 0, failed = 0;
const ok = () => { passed++; };
const fail = (what) => { failed++; console.error(`FAIL: ${what}`); };

// Editors save by writing a new file and renaming it over the old one; the watcher must see both
// that and a write in place.
function saveByRename(path, text) {
  writeFileSync(`${path}.tmp-save`, text);
  renameSync(`${path}.tmp-save`, path);
}
function saveInPlace(path, text) { writeFileSync(path, text); }

// Polls pred in the page (which may be navigating: a reload destroys the context) until it is
// true or ms pass.  Returns whether it became true.
async function within(page, ms, pred, arg) {
  const until = Date.now() + ms;
  for (;;) {
    try { if (await page.evaluate(pred, arg)) return true; } catch { /* reloading */ }
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}
const bodyHas = (text) => document.body !== null && document.body.innerText.includes(text);
const overlayText = () => { const o = document.getElementById('perfweave-preview-overlay'); return o ? o.innerText : ''; };
const overlayHas = (text) => { const o = document.getElementById('perfweave-preview-overlay'); return o !== null && o.innerText.includes(text); };
// Evaluated in the page, so self-contained: the new text is there and no overlay is.
const recovered = (text) => document.body !== null && document.body.innerText.includes(text) &&
  document.getElementById('perfweave-preview-overlay') === null;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  let loads = 0;
  page.on('load', () => { loads++; });
  const original = readFileSync(chapter, 'utf8');

  await page.goto(url);
  if (await within(page, 5000, bodyHas, 'Prose before the edit')) ok(); else fail('the first report is not on the page');
  if (await page.evaluate(() => document.querySelector('script[nonce]') !== null)) ok(); else fail('no live-reload script in the served page');
  // Give the event stream its first state, so the edit below is a change it sees.
  await within(page, 2000, () => false);

  // 1. Prose: the new text in the DOM within 2 s, the page reloading by itself.
  const loadsBefore = loads;
  saveByRename(chapter, original.replace('Prose before the edit', 'Prose after the first edit'));
  if (await within(page, 2000, bodyHas, 'Prose after the first edit')) ok();
  else fail('the edited prose was not in the DOM within 2 s');
  if (loads > loadsBefore) ok(); else fail('the page did not reload itself');

  // 2. A broken directive (saved in place): the overlay names file:line; the last good report stays.
  saveInPlace(chapter, original.replace('Prose before the edit', 'Prose after the first edit')
    .replace('experiment selftest.fixed', 'experiment selftest.fixd'));
  const lineOf = original.split('\n').findIndex((l) => l.includes('experiment selftest.fixed')) + 1;
  const expected = `${chapter}:${lineOf}: unknown experiment 'selftest.fixd' (did you mean 'selftest.fixed'?)`;
  if (await within(page, 5000, overlayHas, expected)) ok();
  else fail(`the overlay did not show "${expected}" (it shows: "${await page.evaluate(overlayText).catch(() => '?')}")`);
  if (await page.evaluate(bodyHas, 'Prose after the first edit')) ok(); else fail('the last good report is gone under the overlay');

  // 3. The fix: the overlay goes, the new prose is there.
  saveByRename(chapter, original.replace('Prose before the edit', 'Prose after the fix'));
  if (await within(page, 5000, recovered, 'Prose after the fix')) ok();
  else fail('the page did not recover after the fix');

  // 4. A changed directive (slow to measure): at once its previous result, marked stale, with the
  //    measuring progress; then, without a manual reload, the page with the measured result.
  const loadsBeforeMeasuring = loads;
  saveByRename(chapter, original.replace('Prose before the edit', 'Prose while measuring')
    .replace('values: [1, 2, 3]', 'values: [1, 2, 9]\ndelay: 3'));
  const staleShown = () => {
    const box = document.querySelector('#result-fixed.stale');
    const note = box && box.querySelector('.stale-note');
    return note !== null && note.innerText.includes('the directive changed: this is its previous result') &&
      document.body.innerText.includes('Prose while measuring');
  };
  if (await within(page, 3000, staleShown)) ok();
  else fail('the changed directive was not shown stale with the new prose within 3 s');
  const progressShown = () => {
    const pill = document.getElementById('perfweave-preview-status');
    return pill !== null && pill.innerText.includes('measuring: [1/1] fixed (selftest.fixed)');
  };
  if (await within(page, 3000, progressShown)) ok();
  else fail(`the measuring progress was not shown (status: "${await page.evaluate(() => { const p = document.getElementById('perfweave-preview-status'); return p ? p.innerText : ''; }).catch(() => '?')}")`);
  if (!(await page.evaluate(bodyHas, '8.1–9.9').catch(() => false))) ok();
  else fail('the new value was on the page before it was measured');
  const measuredShown = () => {
    const box = document.getElementById('result-fixed');
    return box !== null && !box.classList.contains('stale') && box.innerText.includes('8.1–9.9') &&
      document.getElementById('perfweave-preview-status') === null;
  };
  if (await within(page, 15000, measuredShown)) ok();
  else fail('the page did not show the measured result by itself');
  if (loads >= loadsBeforeMeasuring + 2) ok();
  else fail(`the page reloaded ${loads - loadsBeforeMeasuring} time(s) for the stale and the measured report, expected 2`);

  // 5. A renderer that crashes (a half-built binary): said in the overlay, the server goes on.
  saveByRename(bin, '#!/bin/sh\nkill -SEGV $$\n');
  chmodSync(bin, 0o755); // the server tries it (`--version` crashes) and goes on with itself
  saveByRename(chapter, original.replace('Prose before the edit', 'Prose during the crash'));
  if (await within(page, 5000, overlayHas, 'crashed with signal 11')) ok();
  else fail(`the overlay did not report the crash (it shows: "${await page.evaluate(overlayText).catch(() => '?')}")`);

  // 6. The rebuilt binary: the server execs it on the same port; the page reloads and recovers.
  copyFileSync(realBin, `${bin}.tmp-build`);
  chmodSync(`${bin}.tmp-build`, 0o755);
  renameSync(`${bin}.tmp-build`, bin);
  if (await within(page, 8000, recovered, 'Prose during the crash')) ok();
  else fail('after the rebuild the page did not show the latest prose without an overlay');

  // The script only ever runs under the page's policy: no violation, no error on the way.
  const bad = consoleErrors.filter((e) => !/EventSource|net::ERR_|Failed to load resource/.test(e));
  if (bad.length === 0) ok(); else fail(`console errors: ${bad.join(' | ')}`);
  saveByRename(chapter, original);
} finally {
  await browser.close();
}
console.log(`preview browser: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
