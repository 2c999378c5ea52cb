// SPDX-License-Identifier: ISC
// Browser test (auth = password): the page asks for a sign-in, a wrong
// password is refused with a message, the right one signs in (the top bar
// names the user and role) and "New terminal" opens a shell; signing out
// asks for the sign-in again.
//
//   ALIA_AUTH=password with-server.sh node tests/browser/signin.mjs
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { STEP_MS, noProblems, setup, waitFor, withBrowser } from './lib.mjs';

const TOTAL_MS = Number(process.env.ALIA_BROWSER_TIMEOUT_MS || 90000);
const USER = 'carol';
const PASSWORD = 'carol-Browser-9d41e';

const t = setup('browser_signin', TOTAL_MS);
const { log, base, artifacts } = t;

await withBrowser(t, async ({ newPage, problems }) => {
  execFileSync(process.env.ALIA_BIN, ['user', 'add', USER, '--role', 'learner'],
    { input: `${PASSWORD}\n`, stdio: ['pipe', 'inherit', 'inherit'] });
  const page = await newPage('page');

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
  noProblems(problems, (p) => /status of 401/.test(p));
});
