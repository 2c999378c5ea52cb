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
import { STEP_MS, noProblems, setup, waitFor, withBrowser } from './lib.mjs';

const TOTAL_MS = Number(process.env.ALIA_BROWSER_TIMEOUT_MS || 90000);
const WORD = 'hello-from-browser';

const t = setup('browser_terminal', TOTAL_MS);
const { log, base, artifacts } = t;

const promptShown = (b) => /[$#]\s*$/.test(b.cursorLine);
const outputShown = (b) => b.lines.some((l) => l.trim() === WORD);

await withBrowser(t, async ({ newPage, problems }) => {
  const page = await newPage('page');

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

  noProblems(problems);
});
