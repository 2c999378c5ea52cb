// SPDX-License-Identifier: ISC
// Browser test: a lesson whose text is hostile (lessons_dir is
// tests/browser/hostile-lessons, whose hostile.md holds <script>, onerror
// and onclick handlers, javascript: links plain and encoded, an iframe, a
// form, an svg and an mXSS attempt, a page-wide overlay, an element named
// like the page's own and a fake code block). The learner's page shows its
// text, runs none of it (window.pwned stays unset, no dialog, no page or
// console error, no navigation or popup, even after clicking and hovering
// the bait), keeps none of the dangerous markup, gives Run only to the
// real runnable block and sends that block's text as typed.
//
//   ALIA_LESSONS_DIR=tests/browser/hostile-lessons with-server.sh node tests/browser/lesson_hostile.mjs
import path from 'node:path';
import { noProblems, setup, waitFor, withBrowser } from './lib.mjs';

const TOTAL_MS = Number(process.env.ALIA_BROWSER_TIMEOUT_MS || 90000);
const t = setup('browser_lesson_hostile', TOTAL_MS);
const { log, base, artifacts } = t;
const url = (p) => new URL(p, base).href;
const promptShown = (b) => /[$#]\s*$/.test(b.cursorLine);

await withBrowser(t, async ({ newPage, problems }) => {
  const page = await newPage('page', { viewport: { width: 1280, height: 760 } });
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  const popups = [];
  page.context().on('page', (p) => popups.push(p.url()));
  // Parsing the lesson's HTML (DOMPurify does it in an inert document that
  // shares the page's CSP) makes Chromium report each on* attribute as an
  // inline handler the CSP blocked: nothing runs, and DOMPurify drops the
  // attribute next. Such a report from anywhere but purify.js would mean
  // a handler reached the page.
  const BLOCKED = /^Executing inline event handler violates the following Content Security Policy directive .* The action has been blocked\.$/s;
  let blocked = 0;
  const strayBlocks = [];
  page.on('console', (m) => {
    if (m.type() !== 'error' || !BLOCKED.test(m.text())) return;
    if (/\/purify\.[0-9a-f]+\.js$/.test(m.location().url)) blocked++;
    else strayBlocks.push(`${m.location().url}:${m.location().lineNumber}`);
  });

  const where = url('/learn/hostile');
  await page.goto(where);
  await page.waitForURL(/\/learn\/hostile\?session=[A-Za-z0-9-]+$/);
  const at = page.url();
  await page.locator('.step[data-step="1"][data-state="current"]').waitFor();
  await waitFor(page, 'the shell prompt', promptShown);

  const pwned = () => page.evaluate(() => window.pwned);
  const clean = async (when) => {
    const p = await pwned();
    if (p !== undefined) throw new Error(`${when}: lesson code ran (window.pwned = ${JSON.stringify(p)})`);
    if (dialogs.length) throw new Error(`${when}: a dialog opened: ${dialogs.join(', ')}`);
    if (popups.length) throw new Error(`${when}: a page opened: ${popups.join(', ')}`);
    if (page.url() !== at) throw new Error(`${when}: the page went to ${page.url()}`);
    if (strayBlocks.length) throw new Error(`${when}: inline handlers outside DOMPurify's parse: ${strayBlocks.join(', ')}`);
  };
  await page.waitForTimeout(500);
  await clean('after loading');

  // The text is there, as text.
  const text = await page.locator('#lesson').innerText();
  for (const want of ['Intro text stays visible', 'markdown link', 'HTML link',
    'Clicking this paragraph runs nothing.', 'Plain text of the first step is shown', 'a hint']) {
    if (!text.includes(want)) throw new Error(`the lesson does not show "${want}"`);
  }
  const title = await page.locator('.step[data-step="1"] .step-title').textContent();
  if (!title.includes('<b onmouseover=')) throw new Error(`step 1's title shows "${title}", not its markup as text`);
  const barTitle = await page.locator('#bar-title').textContent();
  if (!barTitle.includes('<img src=x')) throw new Error(`the lesson title shows "${barTitle}"`);
  log('the lesson text is shown, its titles as plain text');

  // None of the dangerous markup is in the page.
  const left = await page.evaluate(() => {
    // What the lesson's markdown became: the intro and each step's text.
    const found = [];
    const sel = ['script', 'iframe', 'frame', 'form', 'style', 'object', 'embed', 'input', 'textarea',
      '[onerror]', '[onclick]', '[onmouseover]', '[onload]', '[style]', '[id="status"]'];
    for (const l of document.querySelectorAll('#intro, #steps .md')) {
      for (const s of sel) if (l.querySelector(s)) found.push(s);
      for (const a of l.querySelectorAll('[href], [src], [action], [formaction]')) {
        for (const k of ['href', 'src', 'action', 'formaction', 'xlink:href']) {
          const v = a.getAttribute(k) || '';
          if (/^\s*(javascript|data|vbscript):/i.test(v)) found.push(`${a.tagName} ${k}=${v}`);
        }
      }
      for (const b of l.querySelectorAll('button')) if (!b.matches('.run')) found.push(`button ${b.outerHTML}`);
    }
    const status = document.getElementById('status');
    if (!status || !status.closest('.bar')) found.push('#status is not the page\'s own');
    return found;
  });
  if (left.length) throw new Error(`dangerous markup left in the lesson: ${left.join('; ')}`);
  log('no script, handler, javascript: link, iframe, form, style or shadowing id survived');

  // Bait: click the links and the paragraph, hover the title's markup.
  await page.getByText('markdown link').click();
  await page.getByText('HTML link').click();
  await page.getByText('an encoded one').click();
  await page.getByText('Clicking this paragraph runs nothing.').click();
  await page.locator('.step[data-step="1"] .step-title').hover();
  await page.waitForTimeout(500);
  await clean('after clicking the bait');
  log('clicking and hovering the bait ran nothing');

  // Run only on the real runnable block; it sends that block's text.
  const runs = await page.locator('.step[data-step="1"] .run').count();
  if (runs !== 1) throw new Error(`step 1 has ${runs} Run buttons, not 1 (a fake block got one?)`);
  await page.locator('.step[data-step="1"] .run').click();
  await waitFor(page, 'the run block echoed in the terminal',
    (b) => b.lines.some((l) => l.trim() === "<script>window.pwned='run'</script> done"));
  await page.locator('.step[data-step="1"] .check').click();
  await page.locator('.step[data-step="1"][data-state="passed"]').waitFor();
  await page.locator('.step[data-step="1"]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(artifacts, 'lesson-hostile.png') });
  await clean('after Run and Check');
  log('Run typed the block as text; Check passed step 1; still nothing ran');
  log(`(${blocked} on* attributes met the CSP while DOMPurify parsed the lesson, none elsewhere)`);
  noProblems(problems, (p) => BLOCKED.test(p.replace(/^page: console: /, '')));
});
