// SPDX-License-Identifier: ISC
// Browser test (auth = password): control with consent, in two browsers.
// Learner lea opens a terminal; instructor ian of her group watches it and
// clicks "Ask for control"; lea sees the consent prompt and allows it;
// ian types and the command runs in lea's shell, shown on both screens;
// ian gives control back.
//
//   ALIA_AUTH=password with-server.sh node tests/browser/control.mjs
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { STEP_MS, noProblems, setup, waitFor, withBrowser } from './lib.mjs';

const TOTAL_MS = Number(process.env.ALIA_BROWSER_TIMEOUT_MS || 120000);
const USERS = { lea: ['learner', 'lea-Browser-77a1c'], ian: ['instructor', 'ian-Browser-0c5e3'] };

const t = setup('browser_control', TOTAL_MS);
const { log, base, artifacts } = t;
const alia = (...args) => execFileSync(process.env.ALIA_BIN, args,
  { input: args.includes('add') && args[0] === 'user' ? `${USERS[args[2]][1]}\n` : '',
    stdio: ['pipe', 'inherit', 'inherit'] });

await withBrowser(t, async ({ newPage, problems }) => {
  const pages = {};
  alia('group', 'add', 'g1');
  for (const [name, [role]] of Object.entries(USERS)) alia('user', 'add', name, '--role', role, '--group', 'g1');
  for (const name of Object.keys(USERS)) {
    pages[name] = await newPage(name, { viewport: { width: 1000, height: 560 } });
    const r = await pages[name].request.post(new URL('/api/login', base).href,
      { data: { username: name, password: USERS[name][1] } });
    if (r.status() !== 200) throw new Error(`${name} could not sign in: ${r.status()}`);
  }
  const { lea, ian } = pages;

  await lea.goto(new URL('/', base).href);
  await lea.getByRole('button', { name: 'New terminal' }).first().click();
  await lea.waitForURL(/#\/s\/[A-Za-z0-9-]+/);
  const id = /#\/s\/([A-Za-z0-9-]+)/.exec(lea.url())[1];
  await waitFor(lea, "lea's prompt", (b) => /[$#]\s*$/.test(b.cursorLine));
  log(`lea's session ${id}`);

  await ian.goto(new URL(`/#/s/${id}/watch`, base).href);
  await waitFor(ian, "ian sees lea's prompt", (b) => /[$#]\s*$/.test(b.cursorLine));
  await lea.locator('#viewers').filter({ hasText: '2 viewers' }).waitFor();
  log('ian watches; lea sees 2 viewers');

  await ian.getByRole('button', { name: 'Ask for control' }).click();
  const prompt = lea.locator('#consent');
  await prompt.waitFor({ state: 'visible' });
  const text = await lea.locator('#consent-text').textContent();
  if (!/ian asks to take control/.test(text)) throw new Error(`the prompt says "${text}"`);
  await lea.screenshot({ path: path.join(artifacts, 'control-consent-prompt.png') });
  log(`lea sees the consent prompt: "${text}"`);

  await lea.getByRole('button', { name: 'Allow' }).click();
  await ian.locator('#holder').filter({ hasText: 'you have control' }).waitFor();
  await lea.locator('#holder').filter({ hasText: 'ian has control' }).waitFor();
  await ian.locator('.xterm-helper-textarea').focus();
  await ian.keyboard.type('echo typed-by-$((40+2))-ian', { delay: 15 });
  await ian.keyboard.press('Enter');
  for (const [name, page] of Object.entries(pages)) {
    await waitFor(page, `${name} sees ian's command run`,
      (b) => b.lines.some((l) => l.trim() === 'typed-by-42-ian'));
  }
  await lea.screenshot({ path: path.join(artifacts, 'control-held-lea.png') });
  await ian.screenshot({ path: path.join(artifacts, 'control-held-ian.png') });
  log("ian's command ran in lea's shell, on both screens");

  await ian.getByRole('button', { name: 'Give back control' }).click();
  await lea.locator('#holder').waitFor({ state: 'hidden' });
  await lea.locator('.xterm-helper-textarea').focus();
  await lea.keyboard.type('echo lea-$((2*21))', { delay: 15 });
  await lea.keyboard.press('Enter');
  await waitFor(lea, 'lea types again', (b) => b.lines.some((l) => l.trim() === 'lea-42'));
  log('control is back with lea');

  // A read-only link: the Share button, then an anonymous browser.
  await lea.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await lea.getByRole('button', { name: 'Share' }).click();
  await lea.locator('#toast').filter({ hasText: 'link copied' }).waitFor();
  const link = await lea.evaluate(() => navigator.clipboard.readText());
  if (!/#\/share\/[0-9a-f]{64}$/.test(link)) throw new Error(`the link is "${link}"`);
  const anon = await newPage('anon', { viewport: { width: 1000, height: 560 } });
  await anon.goto(link);
  await waitFor(anon, 'the shared terminal', (b) => b.lines.some((l) => l.trim() === 'lea-42'));
  await anon.locator('#mode').waitFor({ state: 'visible' });
  await anon.screenshot({ path: path.join(artifacts, 'share-viewer.png') });
  log('a share link shows the terminal, read-only, without signing in');
  noProblems(problems);
});
