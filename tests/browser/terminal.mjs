// SPDX-License-Identifier: ISC
// Browser test: a person opens alia, clicks "New terminal", types a command
// and sees its output; a reload reattaches to the same session.
//
//   ALIA_URL=http://127.0.0.1:PORT node tests/browser/terminal.mjs
//
// Uses playwright-core from web/node_modules with Debian's chromium (never a
// downloaded browser). Screenshots go to $ALIA_ARTIFACTS (default: the build
// dir's meson-logs/browser/). Exits non-zero with a message on any failure.
import path from 'node:path';
import { STEP_MS, setup, waitFor } from './lib.mjs';

const TOTAL_MS = Number(process.env.ALIA_BROWSER_TIMEOUT_MS || 90000);
const CHROMIUM = process.env.ALIA_CHROMIUM || '/usr/bin/chromium';
const WORD = 'hello-from-browser';

const { fail, log, base, chromium, artifacts } = setup('browser_terminal', TOTAL_MS);

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
