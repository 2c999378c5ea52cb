// SPDX-License-Identifier: ISC
// What every browser test needs: its failure and log lines, the server's
// URL, playwright-core from web/node_modules, the artifacts directory, an
// overall deadline, and reading the page's xterm buffer.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
export const STEP_MS = 30000;

// Sets a test up; it fails (exit 1) after totalMs whatever it is doing.
export function setup(name, totalMs) {
  const fail = (msg) => {
    console.error(`${name}: FAIL: ${msg}`);
    process.exit(1);
  };
  const log = (msg) => console.log(`${name}: ${msg}`);
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
  const overall = setTimeout(() => fail(`gave up after ${totalMs / 1000}s`), totalMs);
  overall.unref();
  return { name, fail, log, base, chromium, artifacts };
}

const CHROMIUM = process.env.ALIA_CHROMIUM || '/usr/bin/chromium';

// Runs body({ browser, newPage, problems }) in Debian's chromium, then
// ends the test: "1 passed, 0 failed" and exit 0, or, on any error, a
// screenshot of every page (NAME-failure-PAGE.png) and a failure.
// newPage(page, contextOptions) opens a page in a fresh context (its own
// cookies) whose errors, and console errors, land in problems.
export async function withBrowser(t, body) {
  const pages = new Map();
  const problems = [];
  let browser;
  const newPage = async (label, options = { viewport: { width: 1100, height: 640 } }) => {
    const page = await (await browser.newContext(options)).newPage();
    page.setDefaultTimeout(STEP_MS);
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`${label}: console: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
    pages.set(label, page);
    return page;
  };
  try {
    browser = await t.chromium.launch({
      executablePath: CHROMIUM,
      timeout: STEP_MS,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    await body({ browser, newPage, problems });
  } catch (e) {
    if (problems.length) console.error(problems.join('\n'));
    for (const [label, page] of pages) {
      const shot = path.join(t.artifacts, `${t.name}-failure-${label}.png`);
      await page.screenshot({ path: shot, timeout: 5000 }).then(() => console.error(`screenshot: ${shot}`), () => {});
    }
    if (browser) await browser.close().catch(() => {});
    t.fail(e.message);
  }
  await browser.close().catch(() => {});
  t.log('1 passed, 0 failed');
  process.exit(0);
}

// Throws when the pages reported errors that except does not excuse.
export function noProblems(problems, except = () => false) {
  const left = problems.filter((p) => !except(p));
  if (left.length) throw new Error(`the pages reported errors:\n  ${left.join('\n  ')}`);
}

// Lines of the live terminal's xterm buffer, as text.
export function readBuffer(page) {
  return page.evaluate(() => {
    const t = window.term;
    if (!t) return null;
    const b = t.buffer.active;
    const lines = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    return { lines, cursorLine: lines[b.baseY + b.cursorY] ?? '' };
  });
}

// Waits until pred holds for the terminal's buffer; throws saying what it saw.
export async function waitFor(page, what, pred, ms = STEP_MS) {
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
