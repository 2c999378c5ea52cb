// SPDX-License-Identifier: ISC
// Browser test: a person opens alia, clicks "New terminal", types a command
// and sees its output; a reload reattaches to the same session.
//
//   ALIA_URL=http://127.0.0.1:PORT node tests/browser/terminal.mjs
//
// Uses playwright-core from web/node_modules with Debian's chromium (never a
// downloaded browser). Screenshots go to $ALIA_ARTIFACTS (default: the build
// dir's meson-logs/browser/). Exits non-zero with a message on any failure.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const TOTAL_MS = Number(process.env.ALIA_BROWSER_TIMEOUT_MS || 90000);
const STEP_MS = 30000;
const CHROMIUM = process.env.ALIA_CHROMIUM || '/usr/bin/chromium';
const WORD = 'hello-from-browser';

function fail(msg) {
  console.error(`browser_terminal: FAIL: ${msg}`);
  process.exit(1);
}
function log(msg) {
  console.log(`browser_terminal: ${msg}`);
}

const base = process.env.ALIA_URL;
if (!base) fail('ALIA_URL is not set (run me through tests/integration/with-server.sh)');

let chromium;
try {
  const require = createRequire(path.join(repo, 'web', 'package.json'));
  ({ chromium } = require('playwright-core'));
} catch (e) {
  fail(`cannot load playwright-core from web/node_modules (run script/bootstrap or npm ci in web/): ${e.message}`);
}

const buildDir = process.env.ALIA_BUILDDIR || path.join(repo, 'build');
const artifacts = process.env.ALIA_ARTIFACTS || path.join(buildDir, 'meson-logs', 'browser');
mkdirSync(artifacts, { recursive: true });

const overall = setTimeout(() => fail(`gave up after ${TOTAL_MS / 1000}s`), TOTAL_MS);
overall.unref();

// Lines of the active xterm buffer, as text, in the page.
function readBuffer(page) {
  return page.evaluate(() => {
    const t = window.term;
    if (!t) return null;
    const b = t.buffer.active;
    const lines = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    return { lines, cursorLine: lines[b.baseY + b.cursorY] ?? '' };
  });
}

async function waitFor(page, what, pred, ms = STEP_MS) {
  const until = Date.now() + ms;
  let last = null;
  while (Date.now() < until) {
    last = await readBuffer(page);
    if (last && pred(last)) return last;
    await page.waitForTimeout(100);
  }
  const status = await page.locator('#status').textContent().catch(() => '?');
  const shown = last ? last.lines.filter((l) => l.trim()).slice(-15).join('\n  ') : '(no terminal)';
  throw new Error(`timed out after ${ms / 1000}s waiting for ${what}; status: "${status.trim()}"; terminal:\n  ${shown}`);
}

const promptShown = (b) => /[$#]\s*$/.test(b.cursorLine);
const outputShown = (b) => b.lines.some((l) => l.trim() === WORD);

let browser;
let page;
const problems = [];
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: STEP_MS,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
  page.setDefaultTimeout(STEP_MS);
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

  log(`opening ${base}/`);
  const res = await page.goto(new URL('/', base).href);
  if (!res || res.status() !== 200) throw new Error(`GET / answered ${res ? res.status() : 'nothing'}`);
  await page.screenshot({ path: path.join(artifacts, 'landing.png') });

  const button = page.getByRole('button', { name: 'New terminal' }).first();
  await button.waitFor({ state: 'visible' });
  if (!(await button.isEnabled())) throw new Error('"New terminal" is disabled');
  await button.click();

  await page.waitForURL(/#\/s\/[A-Za-z0-9-]+/, { timeout: STEP_MS });
  const id = /#\/s\/([A-Za-z0-9-]+)/.exec(page.url())[1];
  log(`session ${id}`);

  await waitFor(page, 'the shell prompt', promptShown);
  const focused = await page.evaluate(() => document.activeElement?.classList.contains('xterm-helper-textarea'));
  if (!focused) throw new Error('keyboard focus is not on the terminal after it opened');

  await page.keyboard.type(`echo ${WORD}`, { delay: 15 });
  await page.keyboard.press('Enter');
  await waitFor(page, `"${WORD}" on a line by itself`, (b) => outputShown(b) && promptShown(b));
  const shot = path.join(artifacts, 'terminal.png');
  await page.screenshot({ path: shot });
  log(`saw the output; screenshot: ${shot}`);

  const status = (await page.locator('#status').textContent()).trim();
  if (!/connected/.test(status)) throw new Error(`status line says "${status}", expected connected`);

  log('reloading the page');
  await page.reload();
  if (!page.url().includes(`#/s/${id}`)) throw new Error(`after reload the URL is ${page.url()}`);
  await waitFor(page, `"${WORD}" again after the reload`, (b) => outputShown(b) && promptShown(b));
  const sid = (await page.locator('#sid').getAttribute('title')) || '';
  if (!sid.includes(id)) throw new Error(`after reload the page shows session "${sid}", expected ${id}`);
  const shot2 = path.join(artifacts, 'terminal-reload.png');
  await page.screenshot({ path: shot2 });
  log(`reattached to ${id}; screenshot: ${shot2}`);

  // The session still takes input after the reattach.
  await page.keyboard.type('echo again-$((6*7))', { delay: 15 });
  await page.keyboard.press('Enter');
  await waitFor(page, '"again-42" after the reattach', (b) => b.lines.some((l) => l.trim() === 'again-42'));

  if (problems.length) throw new Error(`the page reported errors:\n  ${problems.join('\n  ')}`);
} catch (e) {
  if (problems.length) console.error(problems.join('\n'));
  if (page) {
    const shot = path.join(artifacts, 'failure.png');
    await page.screenshot({ path: shot, timeout: 5000 }).then(() => console.error(`screenshot: ${shot}`), () => {});
  }
  if (browser) await browser.close().catch(() => {});
  fail(e.message);
} finally {
  if (browser) await browser.close().catch(() => {});
}
log('1 passed, 0 failed');
process.exit(0);
