// SPDX-License-Identifier: ISC
// Browser test (auth = password): the page asks for a sign-in, a wrong
// password is refused with a message, the right one signs in (the top bar
// names the user and role) and "New terminal" opens a shell; signing out
// asks for the sign-in again.
//
//   ALIA_AUTH=password with-server.sh node tests/browser/signin.mjs
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { STEP_MS, setup, waitFor } from './lib.mjs';

const TOTAL_MS = Number(process.env.ALIA_BROWSER_TIMEOUT_MS || 90000);
const CHROMIUM = process.env.ALIA_CHROMIUM || '/usr/bin/chromium';
const USER = 'carol';
const PASSWORD = 'carol-Browser-9d41e';

const { fail, log, base, chromium, artifacts } = setup('browser_signin', TOTAL_MS);

let browser;
let page;
const problems = [];
try {
  execFileSync(process.env.ALIA_BIN, ['user', 'add', USER, '--role', 'learner'],
    { input: `${PASSWORD}\n`, stdio: ['pipe', 'inherit', 'inherit'] });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: STEP_MS,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
  page.setDefaultTimeout(STEP_MS);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

  await page.goto(new URL('/', base).href);
  const form = page.locator('[data-signin]');
  await form.waitFor({ state: 'visible' });
  if (await page.getByRole('button', { name: 'New terminal' }).first().isEnabled()) {
    throw new Error('"New terminal" is enabled before signing in');
  }
  await page.screenshot({ path: path.join(artifacts, 'signin.png') });

  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-signin-error]').filter({ hasText: /wrong/ }).waitFor();
  log('a wrong password is refused with a message');

  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-who]').filter({ hasText: `${USER} · learner` }).waitFor();
  if (await form.isVisible()) throw new Error('the sign-in form stays after signing in');
  await page.screenshot({ path: path.join(artifacts, 'signed-in.png') });
  log('signed in; the top bar names the user');

  await page.getByRole('button', { name: 'New terminal' }).first().click();
  await page.waitForURL(/#\/s\/[A-Za-z0-9-]+/);
  await waitFor(page, 'the shell prompt', (b) => /[$#]\s*$/.test(b.cursorLine));
  await page.screenshot({ path: path.join(artifacts, 'signed-in-terminal.png') });
  log('a terminal opened for the signed-in user');

  await page.goto(new URL('/', base).href);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await form.waitFor({ state: 'visible' });
  const me = await page.evaluate(async () => (await fetch('/api/me')).status);
  if (me !== 401) throw new Error(`after signing out /api/me answers ${me}`);
  log('signed out');
  if (problems.length) throw new Error(`the page reported errors:\n  ${problems.join('\n  ')}`);
} catch (e) {
  if (problems.length) console.error(problems.join('\n'));
  if (page) {
    const shot = path.join(artifacts, 'signin-failure.png');
    await page.screenshot({ path: shot, timeout: 5000 }).then(() => console.error(`screenshot: ${shot}`), () => {});
  }
  if (browser) await browser.close().catch(() => {});
  fail(e.message);
} finally {
  if (browser) await browser.close().catch(() => {});
}
log('1 passed, 0 failed');
process.exit(0);
