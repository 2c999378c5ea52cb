// SPDX-License-Identifier: ISC
// Browser test: a person opens a terminal, types a few commands (one prints
// a unique marker string) and exits; the session's recording then holds the
// marker; /play/ID replays it in asciinema-player, and after seeking to the
// end the player's screen shows the marker output; /sessions lists the
// session, and searching for the marker finds it with a snippet.
//
//   ALIA_URL=http://127.0.0.1:PORT node tests/browser/play.mjs
//
// Uses playwright-core from web/node_modules with Debian's chromium (never a
// downloaded browser). Screenshots (play.png, sessions.png,
// sessions-search.png) go to $ALIA_ARTIFACTS (default: the build dir's
// meson-logs/browser/). Exits non-zero with a message on any failure.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { STEP_MS, noProblems, setup, waitFor, withBrowser } from './lib.mjs';

const TOTAL_MS = Number(process.env.ALIA_BROWSER_TIMEOUT_MS || 150000);
const RECORDING_MS = 20000; // the recording commits within a second or two
const TAG = randomBytes(4).toString('hex');
// Typed as `echo alia-replay-$((40+2))-TAG`: only the command's output, not
// its echo, holds MARK.
const MARK = `alia-replay-42-${TAG}`;

const t = setup('browser_play', TOTAL_MS);
const { log, base, artifacts } = t;

async function typeLine(page, text) {
  await page.keyboard.type(text, { delay: 12 });
  await page.keyboard.press('Enter');
}

// The text the page shows in a notice (an error or empty state), if any.
async function noticeText(page) {
  const n = page.locator('#notice');
  if (!(await n.isVisible().catch(() => false))) return null;
  return (await n.innerText()).replace(/\s+/g, ' ').trim();
}

const promptShown = (b) => /[$#]\s*$/.test(b.cursorLine);

await withBrowser(t, async ({ newPage, problems }) => {
  const page = await newPage('page', { viewport: { width: 1100, height: 760 } });

  // --- a session to replay ---------------------------------------------------
  log(`opening ${base}/`);
  const res = await page.goto(new URL('/', base).href);
  if (!res || res.status() !== 200) throw new Error(`GET / answered ${res ? res.status() : 'nothing'}`);
  const button = page.getByRole('button', { name: 'New terminal' }).first();
  await button.click();
  await page.waitForURL(/#\/s\/[A-Za-z0-9-]+/, { timeout: STEP_MS });
  const id = /#\/s\/([A-Za-z0-9-]+)/.exec(page.url())[1];
  log(`session ${id}; marker ${MARK}`);

  await waitFor(page, 'the shell prompt', promptShown);
  await typeLine(page, 'echo one-$((1+1))');
  await waitFor(page, '"one-2"', (b) => b.lines.some((l) => l.trim() === 'one-2') && promptShown(b));
  await typeLine(page, 'ls /');
  await typeLine(page, `echo alia-replay-$((40+2))-${TAG}`);
  await waitFor(page, `"${MARK}"`, (b) => b.lines.some((l) => l.trim() === MARK) && promptShown(b));
  await typeLine(page, 'exit');
  await page.locator('#status-text').filter({ hasText: /exited|ended/ }).waitFor({ timeout: STEP_MS })
    .catch(async () => {
      const s = await page.locator('#status-text').textContent().catch(() => '?');
      throw new Error(`after "exit" the status line says "${s}", expected that the session exited`);
    });
  log('the session exited');

  // --- the recording -----------------------------------------------------------
  const recURL = new URL(`/api/sessions/${encodeURIComponent(id)}/recording`, base).href;
  let rec = null;
  const until = Date.now() + RECORDING_MS;
  for (;;) {
    // Fetched by the page, as the page's cookie identity.
    rec = await page.evaluate(async (u) => {
      try {
        const r = await fetch(u, { credentials: 'same-origin', cache: 'no-store' });
        return { status: r.status, type: r.headers.get('content-type') || '', body: await r.text() };
      } catch (e) {
        return { status: 0, type: '', body: `network error: ${e.message}` };
      }
    }, recURL);
    // Complete once it also holds the marker of the browser's leaving,
    // recorded after the last output: the player's timeline ends at the
    // last event, and a click on the progress bar's last pixel seeks just
    // short of it, so without a later event the last output would be
    // unreachable by seeking.
    if (rec.status === 200 && rec.body.includes(MARK) && /"m", "leave /.test(rec.body)) break;
    if (Date.now() > until) {
      const head = rec.body.slice(0, 300).replace(/\n/g, '\\n');
      throw new Error(`GET ${recURL} did not hold "${MARK}" and the leave marker within ${RECORDING_MS / 1000}s; ` +
        `last answer: ${rec.status} (${rec.type || 'no content type'}) "${head}"` +
        (rec.status === 404 ? ' — is the recording endpoint there?' : ''));
    }
    await page.waitForTimeout(250);
  }
  if (!/^application\/x-asciicast/.test(rec.type)) {
    throw new Error(`the recording's Content-Type is "${rec.type}", expected application/x-asciicast`);
  }
  log(`the recording holds the marker (${rec.body.length} bytes)`);

  // --- /play/ID ------------------------------------------------------------------
  const playURL = new URL(`/play/${encodeURIComponent(id)}`, base).href;
  log(`opening ${playURL}`);
  const pr = await page.goto(playURL);
  if (!pr || pr.status() !== 200) throw new Error(`GET /play/ID answered ${pr ? pr.status() : 'nothing'}`);
  const playerOrNotice = page.locator('.ap-player, #notice:not([hidden])').first();
  await playerOrNotice.waitFor({ state: 'visible' });
  let notice = await noticeText(page);
  if (notice) throw new Error(`/play/ID shows a notice instead of the player: "${notice}"`);

  const shownId = (await page.locator('#f-id').textContent()).trim();
  if (shownId !== id) throw new Error(`the facts show session "${shownId}", expected ${id}`);
  const exit = (await page.locator('#f-exit').textContent()).trim();
  if (exit !== '0') throw new Error(`the facts show exit code "${exit}", expected 0`);

  // The duration is known once the player has loaded the recording.
  await page.waitForFunction(() => window.player && window.player.getDuration() > 0, null, { timeout: STEP_MS })
    .catch(() => { throw new Error('the player never learned the recording\'s duration'); });

  // Seek to the end as a person would: reveal the controls, click at the far
  // right of the progress bar.
  const player = page.locator('.ap-player');
  await player.hover();
  const bar = page.locator('.ap-progressbar .ap-bar');
  await bar.waitFor({ state: 'visible' });
  const box = await bar.boundingBox();
  if (!box || box.width < 20) throw new Error(`the progress bar has no usable size: ${JSON.stringify(box)}`);
  // A locator click waits for the bar to be stable and scrolled into view,
  // and takes its position relative to the bar as it is at that moment.
  await bar.click({ position: { x: box.width - 1, y: box.height / 2 } });

  const screen = page.locator('.ap-term-text');
  const seekUntil = Date.now() + 10000;
  let shown = '';
  for (;;) {
    shown = await screen.innerText().catch(() => '');
    if (shown.split('\n').some((l) => l.trim() === MARK)) break;
    notice = await noticeText(page);
    if (notice) throw new Error(`/play/ID shows a notice after seeking: "${notice}"`);
    if (Date.now() > seekUntil) {
      const lines = shown.split('\n').filter((l) => l.trim()).slice(-15).join('\n  ');
      const at = await page.evaluate(async () => [await window.player.getCurrentTime(),
        await window.player.getDuration()]).catch((e) => [e.message]);
      const now = await bar.boundingBox().catch(() => null);
      writeFileSync(path.join(artifacts, 'browser_play-failure.cast'), rec.body);
      throw new Error(`after seeking to the end the player's screen does not show "${MARK}" ` +
        `(player at ${JSON.stringify(at)} s; progress bar ${JSON.stringify(box)} before the click, ` +
        `${JSON.stringify(now)} now):\n  ${lines}`);
    }
    await page.waitForTimeout(100);
  }
  const pos = await page.evaluate(async () => [await window.player.getCurrentTime(),
    await window.player.getDuration()]);
  if (!(pos[0] >= pos[1] * 0.9)) throw new Error(`the player is at ${pos[0]}s of ${pos[1]}s, not near the end`);
  await page.mouse.move(0, 0); // let the controls fade for the screenshot
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  const playShot = path.join(artifacts, 'play.png');
  await page.screenshot({ path: playShot, fullPage: true });
  log(`the replay shows the marker at ${pos[0].toFixed(1)}s of ${pos[1].toFixed(1)}s; screenshot: ${playShot}`);

  // Unknown sessions say so.
  await page.goto(new URL('/play/00000000000000000000000000000000', base).href);
  await page.locator('#notice:not([hidden])').waitFor();
  notice = await noticeText(page);
  if (!/not found/i.test(notice)) throw new Error(`/play/ of an unknown session says "${notice}"`);

  // --- /sessions -----------------------------------------------------------------
  const listURL = new URL('/sessions', base).href;
  log(`opening ${listURL}`);
  const lr = await page.goto(listURL);
  if (!lr || lr.status() !== 200) throw new Error(`GET /sessions answered ${lr ? lr.status() : 'nothing'}`);
  const row = page.locator(`.row[data-id="${id}"]`);
  await page.locator(`.row[data-id="${id}"], #notice:not([hidden])`).first().waitFor();
  notice = await noticeText(page);
  if (notice) throw new Error(`/sessions shows a notice instead of the session: "${notice}"`);
  const href = await row.locator(`a[href="/play/${id}"]`).first().getAttribute('href');
  if (!href) throw new Error('the session\'s row has no link to its replay');
  const listShot = path.join(artifacts, 'sessions.png');
  await page.screenshot({ path: listShot, fullPage: true });
  log(`/sessions lists ${id}; screenshot: ${listShot}`);

  // The recorder indexes output for search about once a second after its
  // commits: a search may come up empty for a moment; search again then.
  await page.locator('#q').fill(MARK);
  await page.waitForURL(/\/sessions\?q=/);
  const snippet = row.locator('.snippet');
  const searchUntil = Date.now() + 15000;
  for (;;) {
    await page.locator(`.row[data-id="${id}"] .snippet, #notice:not([hidden])`).first().waitFor();
    notice = await noticeText(page);
    if (!notice) break;
    if (!/^No matches/.test(notice) || Date.now() > searchUntil) {
      throw new Error(`searching for "${MARK}" shows a notice: "${notice}"`);
    }
    await page.waitForTimeout(500);
    await page.locator('#q').press('Enter');
    await page.waitForTimeout(200);
  }
  const sn = await snippet.innerText();
  if (!sn.includes(MARK)) throw new Error(`the search result's snippet is "${sn}", expected it to hold "${MARK}"`);
  const rows = await page.locator('.row').count();
  if (rows !== 1) throw new Error(`searching for a string only one session printed lists ${rows} sessions`);
  const searchShot = path.join(artifacts, 'sessions-search.png');
  await page.screenshot({ path: searchShot, fullPage: true });
  log(`searching finds it; screenshot: ${searchShot}`);

  // The unknown session's 404s above are expected; anything else is not.
  noProblems(problems, (p) => /status of 404/.test(p));
});
