// SPDX-License-Identifier: ISC
// Browser test (auth = password): the instructor wall. Three learners of
// irene's group each open a terminal and print a line of their own;
// irene's /wall shows three live tiles with those lines and badges (the
// environment of each, from the session API), readable: terminal text of
// at least 11 px, two or three tiles a row, a tile grows on hover. A line
// printed afterwards appears in its tile as it happens, and that learner,
// now the least idle, moves to the end (the wall puts those who need help
// first). A learner is refused the wall.
//
//   ALIA_AUTH=password with-server.sh node tests/browser/wall.mjs
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { STEP_MS, noProblems, setup, waitFor, withBrowser } from './lib.mjs';

const TOTAL_MS = Number(process.env.ALIA_BROWSER_TIMEOUT_MS || 150000);
const LEARNERS = ['lia', 'leo', 'lou'];
const pw = (name) => `${name}-Wall-5e8d1`;

const t = setup('browser_wall', TOTAL_MS);
const { log, base, artifacts } = t;
const alia = (args, input = '') => execFileSync(process.env.ALIA_BIN, args,
  { input, stdio: ['pipe', 'inherit', 'inherit'] });

// The text of every wall tile, by owner.
const tileTexts = (page) => page.evaluate(() => {
  const out = {};
  for (const t of window.wallTerms.values()) {
    const b = t.term.buffer.active;
    const lines = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    out[t.session.owner] = lines.join('\n');
  }
  return out;
});

async function waitTiles(page, what, pred) {
  const until = Date.now() + STEP_MS;
  let last = {};
  while (Date.now() < until) {
    last = await tileTexts(page);
    if (pred(last)) return last;
    await page.waitForTimeout(200);
  }
  throw new Error(`${what}: the tiles show ${JSON.stringify(last).slice(0, 600)}`);
}

await withBrowser(t, async ({ newPage, problems }) => {
  const pages = {};
  alia(['group', 'add', 'g1']);
  alia(['user', 'add', 'irene', '--role', 'instructor', '--group', 'g1'], `${pw('irene')}\n`);
  for (const l of LEARNERS) alia(['user', 'add', l, '--role', 'learner', '--group', 'g1'], `${pw(l)}\n`);
  for (const name of ['irene', ...LEARNERS]) {
    pages[name] = await newPage(name, { viewport: { width: 1200, height: 700 } });
    const r = await pages[name].request.post(new URL('/api/login', base).href,
      { data: { username: name, password: pw(name) } });
    if (r.status() !== 200) throw new Error(`${name} could not sign in: ${r.status()}`);
  }

  for (const l of LEARNERS) {
    const p = pages[l];
    await p.goto(new URL('/', base).href);
    await p.getByRole('button', { name: 'New terminal' }).first().click();
    await p.waitForURL(/#\/s\/[A-Za-z0-9-]+/);
    await waitFor(p, `${l}'s prompt`, (b) => /[$#]\s*$/.test(b.cursorLine));
    await p.keyboard.type(`echo hello-from-${l}-$((6*7))`, { delay: 10 });
    await p.keyboard.press('Enter');
    await waitFor(p, `${l}'s line`, (b) => b.lines.some((x) => x.trim() === `hello-from-${l}-42`));
  }
  log('three learners have terminals with a line of their own');

  const refused = await pages.lia.goto(new URL('/wall', base).href).then(() =>
    pages.lia.locator('#notice-title').textContent());
  if (!/for instructors/.test(refused)) throw new Error(`a learner's wall says "${refused}"`);
  const ws = await pages.lia.evaluate(() => new Promise((done) => {
    const w = new WebSocket(`ws://${location.host}/ws/wall?ids=00000000-0000-4000-8000-000000000000`);
    w.onopen = () => done('open');
    w.onerror = () => done('refused');
  }));
  if (ws !== 'refused') throw new Error(`a learner's /ws/wall was ${ws}`);
  log('a learner is refused the wall');

  const irene = pages.irene;
  await irene.goto(new URL('/wall', base).href);
  await irene.locator('.tile').nth(2).waitFor();
  const texts = await waitTiles(irene, 'three live thumbnails',
    (t) => LEARNERS.every((l) => (t[l] || '').includes(`hello-from-${l}-42`)));
  const n = await irene.locator('.tile').count();
  if (n !== 3) throw new Error(`the wall has ${n} tiles, not 3`);
  const badges = await irene.locator('.tile-badges').first().textContent();
  if (!/active|idle/.test(badges) || !/last output/.test(badges)) throw new Error(`badges: "${badges}"`);
  const sessions = await (await irene.request.get(new URL('/api/sessions', base).href)).json();
  for (const l of LEARNERS) {
    const s = sessions.find((x) => x.owner === l && x.state === 'running');
    if (!s || !s.environment) throw new Error(`the API gives ${l}'s session no environment: ${JSON.stringify(s)}`);
    const env = (await irene.locator(`.tile[data-owner="${l}"] .badge-env`).textContent()).trim();
    if (env !== s.environment) throw new Error(`${l}'s tile says environment "${env}", the API ${s.environment}`);
    if (await irene.locator(`.tile[data-owner="${l}"] .badge-step`).count()) {
      throw new Error(`${l}'s tile has a lesson badge without a lesson`);
    }
  }

  // Readable: 11 px text or more, two or three tiles a row at 1200 px.
  const look = await irene.evaluate(() => {
    const rows = document.querySelector('.tile .xterm-rows');
    const tops = [...document.querySelectorAll('.tile')].map((e) => Math.round(e.getBoundingClientRect().top));
    return {
      option: [...window.wallTerms.values()].map((x) => x.term.options.fontSize),
      px: rows ? parseFloat(getComputedStyle(rows).fontSize) : 0,
      perRow: tops.filter((y) => y === Math.min(...tops)).length,
    };
  });
  if (look.option.some((f) => f < 11) || look.px < 11) {
    throw new Error(`tile text is too small: options ${look.option}, drawn at ${look.px} px`);
  }
  if (look.perRow < 2 || look.perRow > 3) throw new Error(`${look.perRow} tiles a row, not 2 or 3`);
  await irene.screenshot({ path: path.join(artifacts, 'wall.png') });
  log(`the wall shows 3 live tiles (${Object.keys(texts).join(', ')}) at ${look.px} px, ` +
    `${look.perRow} a row; badges "${badges}"`);

  // A tile grows on hover, and shrinks back.
  const first = irene.locator('.tile').first();
  const w0 = (await first.boundingBox()).width;
  await first.hover();
  await irene.waitForTimeout(400);
  const w1 = (await first.boundingBox()).width;
  await irene.screenshot({ path: path.join(artifacts, 'wall-hover.png') });
  if (!(w1 > w0 * 1.2)) throw new Error(`a hovered tile is ${w1} px wide, was ${w0}: it did not grow`);
  await irene.mouse.move(2, 2);
  log(`a hovered tile grows: ${Math.round(w0)} -> ${Math.round(w1)} px`);

  await pages.leo.keyboard.type('echo and-now-$((7*6))-live', { delay: 10 });
  await pages.leo.keyboard.press('Enter');
  await waitTiles(irene, "leo's new line on the wall", (t) => (t.leo || '').includes('and-now-42-live'));
  log("a new line shows in leo's tile as it happens");

  // Sorted by need of help: without lessons, the most idle first; leo
  // just typed, so after the next poll he is last.
  const orders = async () => irene.evaluate(() => Object.fromEntries([...document.querySelectorAll('.tile')]
    .map((e) => [e.dataset.owner, Number(e.style.order)])));
  const until = Date.now() + STEP_MS;
  let o = await orders();
  while (Date.now() < until && !(o.leo > o.lia && o.leo > o.lou)) {
    await irene.waitForTimeout(500);
    o = await orders();
  }
  if (!(o.leo > o.lia && o.leo > o.lou)) throw new Error(`leo, the least idle, is not last: ${JSON.stringify(o)}`);
  await irene.screenshot({ path: path.join(artifacts, 'wall-live.png') });
  log(`the least idle comes last: ${JSON.stringify(o)}`);
  noProblems(problems, (p) => /status of 403|WebSocket connection/.test(p));
});
