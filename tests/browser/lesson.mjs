// SPDX-License-Identifier: ISC
// Browser test (auth = password, environments debian and busybox): a
// lesson end to end. Lena opens /learn/first-steps: the lesson renders
// beside a terminal of her own, the URL names her session, Run on step 1
// types its command into the terminal, Check turns step 1 green and opens
// step 2, a Check of step 2 before doing it fails and shows the check's
// output; a reload comes back to the same session and step; dragging the
// handle between lesson and terminal refits the terminal. Her instructor
// Irma sees "first-steps · step 2/M" on Lena's wall tile (red: a failed
// check) and Lena on /progress/first-steps. The start page lists the
// lessons and opens a terminal in the environment chosen.
//
//   ALIA_AUTH=password ALIA_ENVIRONMENTS=debian=alia-sandbox:debian,busybox=alia-sandbox:latest \
//     with-server.sh node tests/browser/lesson.mjs
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { STEP_MS, noProblems, setup, waitFor, withBrowser } from './lib.mjs';

const TOTAL_MS = Number(process.env.ALIA_BROWSER_TIMEOUT_MS || 180000);
const LESSON = 'first-steps';
const STEP1 = "printf 'hello\\n' > ~/hello.txt";
const pw = (name) => `${name}-Lesson-7c2e9`;

const t = setup('browser_lesson', TOTAL_MS);
const { log, base, artifacts } = t;
const alia = (args, input = '') => execFileSync(process.env.ALIA_BIN, args,
  { input, stdio: ['pipe', 'inherit', 'inherit'] });
const url = (p) => new URL(p, base).href;
const shot = (page, name) => page.screenshot({ path: path.join(artifacts, name) });
const promptShown = (b) => /[$#]\s*$/.test(b.cursorLine);

// Waits until fn() (run in the page) returns something truthy.
async function until(page, what, fn, arg) {
  try {
    return await page.waitForFunction(fn, arg, { timeout: STEP_MS, polling: 200 });
  } catch (e) {
    throw new Error(`timed out waiting for ${what}: ${e.message.split('\n')[0]}`);
  }
}

await withBrowser(t, async ({ newPage, problems }) => {
  alia(['group', 'add', 'g1']);
  alia(['user', 'add', 'irma', '--role', 'instructor', '--group', 'g1'], `${pw('irma')}\n`);
  alia(['user', 'add', 'lena', '--role', 'learner', '--group', 'g1'], `${pw('lena')}\n`);
  const pages = {};
  for (const name of ['irma', 'lena']) {
    pages[name] = await newPage(name, { viewport: { width: 1280, height: 760 } });
    const r = await pages[name].request.post(url('/api/login'),
      { data: { username: name, password: pw(name) } });
    if (r.status() !== 200) throw new Error(`${name} could not sign in: ${r.status()}`);
  }
  const { lena, irma } = pages;

  const api = await lena.request.get(url(`/api/lessons/${LESSON}`));
  if (api.status() !== 200) throw new Error(`GET /api/lessons/${LESSON}: ${api.status()}`);
  const lesson = await api.json();
  const M = lesson.steps.length;
  log(`${LESSON}: "${lesson.title}", ${M} steps, environment ${lesson.environment}`);

  // The lesson renders beside a new session, whose id the URL now holds.
  await lena.goto(url(`/learn/${LESSON}`));
  await lena.waitForURL(/\/learn\/first-steps\?session=[A-Za-z0-9-]+$/);
  const id = new URL(lena.url()).searchParams.get('session');
  await lena.locator('.step[data-step="1"][data-state="current"]').waitFor();
  const h1 = (await lena.locator('#lesson-h1').textContent()).trim();
  if (h1 !== lesson.title) throw new Error(`the lesson's title shows "${h1}", not "${lesson.title}"`);
  const steps = await lena.locator('.step').count();
  if (steps !== M) throw new Error(`${steps} steps shown, the lesson has ${M}`);
  if (await lena.locator('.step[data-step="2"] .step-body').isVisible()) {
    throw new Error('step 2 is open before step 1 is done');
  }
  if (await lena.locator('.md pre.code', { hasText: 'grep -qx hello' }).count()) {
    throw new Error("step 1's check is shown to the learner");
  }
  await waitFor(lena, 'the shell prompt', promptShown);
  const sess = await (await lena.request.get(url(`/api/sessions/${id}`))).json();
  if (sess.lesson !== LESSON || sess.environment !== lesson.environment || sess.step !== 1) {
    throw new Error(`session ${id}: lesson ${sess.lesson}, environment ${sess.environment}, step ${sess.step}`);
  }
  log(`session ${id} (${sess.environment}) at step 1; the URL holds it`);

  // Run types step 1's command into the terminal, as if typed.
  await lena.locator('.step[data-step="1"] .run').first().click();
  await waitFor(lena, `"${STEP1}" typed into the terminal`,
    (b) => b.lines.some((l) => l.includes(STEP1)) && promptShown(b));
  log('Run typed step 1 into the terminal');

  // Check: step 1 passes, turns green, and step 2 opens.
  await lena.locator('.step[data-step="1"] .check').click();
  await lena.locator('.step[data-step="1"][data-state="passed"]').waitFor();
  await lena.locator('.step[data-step="2"][data-state="current"] .step-body').waitFor();
  const color = await lena.locator('.step[data-step="1"] .step-n').evaluate((e) => getComputedStyle(e).color);
  if (color !== 'rgb(126, 224, 161)') throw new Error(`step 1's mark is ${color}, not green`);
  const mark = (await lena.locator('.step[data-step="1"] .step-mark').textContent()).trim();
  if (!/passed/.test(mark)) throw new Error(`step 1's mark says "${mark}"`);
  if (await lena.locator('.step[data-step="1"] .step-body').isVisible()) {
    throw new Error('passed step 1 is still open');
  }
  await shot(lena, 'lesson.png');
  log('Check passed step 1: green and folded, step 2 open');

  // Step 2 checked before it is done: fails, with the check's output.
  await lena.locator('.step[data-step="2"] .check').click();
  const out = lena.locator('.step[data-step="2"] .check-out');
  await out.waitFor();
  const outText = await out.textContent();
  if (!/should hold two lines/.test(outText)) throw new Error(`step 2's failed check shows "${outText}"`);
  const state2 = await lena.locator('.step[data-step="2"]').getAttribute('data-state');
  if (state2 !== 'current') throw new Error(`after a failed check step 2 is ${state2}`);
  await shot(lena, 'lesson-check-failed.png');
  log(`a failed check shows its output: "${outText.split('\n')[0]}"`);

  // A reload comes back to the same session, at step 2, with its output.
  await lena.reload();
  if (new URL(lena.url()).searchParams.get('session') !== id) throw new Error(`after a reload the URL is ${lena.url()}`);
  await lena.locator('.step[data-step="1"][data-state="passed"]').waitFor();
  await lena.locator('.step[data-step="2"][data-state="current"]').waitFor();
  await waitFor(lena, 'the earlier command after the reload', (b) => b.lines.some((l) => l.includes(STEP1)));
  log('a reload reattached to the same session at step 2');

  // Dragging the handle refits the terminal.
  const cols0 = await lena.evaluate(() => window.term.cols);
  const h = await lena.locator('#split').boundingBox();
  await lena.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
  await lena.mouse.down();
  await lena.mouse.move(h.x - 120, h.y + h.height / 2, { steps: 6 });
  await lena.mouse.move(h.x - 200, h.y + h.height / 2, { steps: 6 });
  await lena.mouse.up();
  await until(lena, 'the terminal to widen after the drag', (c) => window.term.cols > c + 15, cols0);
  const cols1 = await lena.evaluate(() => window.term.cols);
  const size = await (await lena.request.get(url(`/api/sessions/${id}`))).json();
  log(`the drag refitted the terminal: ${cols0} -> ${cols1} columns (server: ${size.cols})`);

  // The instructor's wall: Lena's tile says where she is, red (a failed check).
  await irma.goto(url('/wall'));
  const tile = irma.locator(`.tile[data-owner="lena"]`);
  await tile.waitFor();
  const stepBadge = tile.locator('.badge-step');
  await stepBadge.waitFor();
  const badgeText = (await stepBadge.textContent()).trim();
  if (!badgeText.includes(`first-steps · step 2/${M}`)) throw new Error(`the wall's lesson badge says "${badgeText}"`);
  if (!/\bbadge-fail\b/.test(await stepBadge.getAttribute('class'))) {
    throw new Error(`a lesson with a failed check is not red on the wall: ${await stepBadge.getAttribute('class')}`);
  }
  const env = (await tile.locator('.badge-env').textContent()).trim();
  if (env !== lesson.environment) throw new Error(`the wall's environment badge says "${env}"`);
  await until(irma, "Lena's terminal on her tile",
    (s) => [...window.wallTerms.values()].some((x) => {
      const b = x.term.buffer.active;
      for (let i = 0; i < b.length; i++) if ((b.getLine(i)?.translateToString(true) ?? '').includes(s)) return true;
      return false;
    }), STEP1);
  await shot(irma, 'lesson-wall.png');
  log(`the wall shows "${env}" and "${badgeText}"`);

  // Progress: Lena, on step 2 of M, with one failed check.
  await irma.goto(url(`/progress/${LESSON}`));
  const row = irma.locator('.row[data-owner="lena"]');
  await row.waitFor();
  const rowText = (await row.textContent()).replace(/\s+/g, ' ');
  if (!rowText.includes(`step 2/${M}`) || !rowText.includes(lesson.steps[1].title)) {
    throw new Error(`the progress row says "${rowText}"`);
  }
  const fails = (await row.locator('.c-fails').textContent()).trim();
  if (fails !== '1') throw new Error(`the progress row counts ${fails} failed checks, not 1`);
  await shot(irma, 'lesson-progress.png');
  log(`/progress/${LESSON} lists lena: "${rowText.trim()}"`);

  // The start page: the lessons, and a terminal in the environment chosen.
  await lena.goto(url('/'));
  const card = lena.locator('.lesson-card', { hasText: lesson.title });
  await card.waitFor();
  const href = await card.locator('a', { hasText: 'Start' }).getAttribute('href');
  if (href !== `learn/${LESSON}`) throw new Error(`the lesson's Start goes to ${href}`);
  await lena.locator('#env').selectOption('busybox');
  await shot(lena, 'lesson-start-page.png');
  await lena.getByRole('button', { name: 'New terminal' }).first().click();
  await lena.waitForURL(/#\/s\/[A-Za-z0-9-]+/);
  const bid = /#\/s\/([A-Za-z0-9-]+)/.exec(lena.url())[1];
  const bs = await (await lena.request.get(url(`/api/sessions/${bid}`))).json();
  if (bs.environment !== 'busybox' || bs.lesson) throw new Error(`the new terminal is ${bs.environment}, lesson ${bs.lesson}`);
  await waitFor(lena, 'the busybox prompt', promptShown);
  log('the start page lists the lesson; New terminal opened busybox as chosen');
  noProblems(problems);
});
