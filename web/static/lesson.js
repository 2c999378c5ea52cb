// SPDX-License-Identifier: ISC
// The lesson page, served for /learn/NAME: the lesson (GET
// /api/lessons/NAME) on the left, a terminal of the learner's own on the
// right (terminal.js), a handle between them to drag. The session is made
// with POST /api/sessions {"lesson": NAME} unless ?session=ID names one to
// go back to; the URL is rewritten to hold it, so a reload comes back.
//
// Steps show one after another: the current one open, passed ones green
// and folded (a click opens them again), later ones dimmed. Check posts
// /api/sessions/ID/check {"step": N}; the server runs the step's check in
// the sandbox and says passed (on to the next step) or not (its output is
// shown). The step the learner is on comes from the session ("step": one
// more than the steps passed in order).
//
// Lesson text is not trusted. marked renders it to HTML, DOMPurify cleans
// that HTML before it is parsed into the page (no script, handler or
// javascript: URL survives; the CSP forbids inline scripts anyway), and the
// text of code blocks is never HTML: marked's code renderer leaves an empty
// <pre> marked with a random nonce and the block's index, and the page
// fills it with textContent afterwards. Whether a block is runnable (its
// info string holds the word "run") is read from marked's token, and Run
// sends the token's text, so markup in a lesson cannot make a Run button.
'use strict';

(() => {
  const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
  const ID_RE = /^[A-Za-z0-9-]{1,64}$/;
  const SPLIT_KEY = 'alia.lesson.split';
  const MIN_LESSON_PX = 260;
  const MIN_TERM_PX = 320;
  const { api, errorText, el } = Alia;

  const $ = (id) => document.getElementById(id);
  const ui = {
    learn: $('learn'),
    pane: $('lesson-pane'),
    split: $('split'),
    host: $('terminal'),
    barTitle: $('bar-title'),
    sid: $('sid'),
    viewers: $('viewers'),
    holder: $('holder'),
    takeback: document.querySelector('[data-action="takeback"]'),
    replay: $('replay'),
    restart: document.querySelector('[data-action="restart"]'),
    loading: $('loading'),
    notice: $('notice'),
    lesson: $('lesson'),
    env: $('lesson-env'),
    count: $('lesson-count'),
    h1: $('lesson-h1'),
    meter: $('meter'),
    intro: $('intro'),
    steps: $('steps'),
    done: $('done'),
    toast: $('toast'),
    consent: $('consent'),
    consentText: $('consent-text'),
  };

  const name = Alia.pathName('learn', NAME_RE);

  let lesson = null; // GET /api/lessons/NAME
  let sessionId = null;
  let current = 1; // the step the learner is on, 1-based; steps + 1 when done
  const stepEls = []; // by step number - 1: {li, head, check, msg, out, fails}

  // --- bar, status, toast ----------------------------------------------------

  const { setStatus, setViewers, toast } = Alia.bar(ui);

  function notice(title, text) {
    ui.loading.hidden = true;
    ui.lesson.hidden = true;
    Alia.notice(title, text);
    setStatus('error', title);
  }

  // An instructor may ask for the keyboard: the learner allows or declines.
  function setHolder(s, holder) {
    s.holder = holder;
    ui.holder.hidden = holder === null;
    ui.holder.textContent = `${holder} has control`;
    ui.takeback.hidden = holder === null;
  }

  const control = Alia.control(ui, {
    send: (action) => tty.sendJSON({ type: 'control', action }),
    holder: setHolder, toast, back: 'Control is back with you',
  });

  const tty = Alia.terminal(ui.host, {
    status: setStatus,
    viewers: setViewers,
    hello(s) {
      control.reset(s);
      ui.restart.hidden = true;
    },
    ended(s) {
      ui.restart.hidden = false;
      ui.replay.hidden = !s.id;
      for (const e of stepEls) if (e.check) e.check.disabled = true;
    },
    message: control.message,
  }, { fontSize: 14 });

  // --- markdown ---------------------------------------------------------------

  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    // Links in a lesson open beside it, never in place of the terminal.
    if (node.tagName === 'A' && node.hasAttribute('href') &&
        !node.getAttribute('href').startsWith('#')) {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
  });
  const PURIFY = {
    RETURN_DOM_FRAGMENT: true,
    // No forms or page styles from a lesson; ids prefixed (user-content-)
    // so a lesson cannot shadow the page's own.
    FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'option'],
    FORBID_ATTR: ['style'],
    SANITIZE_NAMED_PROPS: true,
  };

  function randomHex() {
    const b = new Uint8Array(8);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // Renders markdown md into a cleaned DOM fragment with its code blocks
  // filled in, Run buttons on runnable ones.
  function render(md) {
    const nonce = randomHex();
    const blocks = [];
    const m = new marked.Marked({
      gfm: true,
      renderer: {
        code(tok) {
          blocks.push({ text: String(tok.text || ''), info: String(tok.lang || '') });
          return `<pre data-block="${nonce}-${blocks.length - 1}"></pre>\n`;
        },
      },
    });
    const frag = DOMPurify.sanitize(m.parse(String(md || '')), PURIFY);
    for (const pre of frag.querySelectorAll(`pre[data-block^="${nonce}-"]`)) {
      const b = blocks[Number(pre.dataset.block.slice(nonce.length + 1))];
      pre.removeAttribute('data-block');
      const words = b ? b.info.trim().split(/\s+/) : [];
      if (!b || words[0] === 'check') { // the server strips checks; be sure
        pre.remove();
        continue;
      }
      pre.className = 'code';
      pre.append(el('code', words[0] ? `language-${words[0]}` : '', b.text));
      if (!words.includes('run')) continue;
      const box = el('div', 'codeblock runnable');
      pre.replaceWith(box);
      const run = el('button', 'btn btn-sm run', 'Run');
      run.type = 'button';
      run.title = 'Type this into the terminal';
      run.addEventListener('click', () => runBlock(b.text, run));
      box.append(pre, run);
    }
    return frag;
  }

  function runBlock(text, button) {
    const sent = tty.type(text.endsWith('\n') ? text : `${text}\n`);
    if (!sent) {
      toast('The terminal is not connected');
      return;
    }
    button.textContent = 'Sent';
    button.classList.add('sent');
    setTimeout(() => { button.textContent = 'Run'; button.classList.remove('sent'); }, 1200);
    tty.term.focus();
  }

  // --- steps ----------------------------------------------------------------------

  // The step's markdown without its own "## title" line, if it kept one.
  const stepBody = (md) => String(md || '').replace(/^\s*##[ \t][^\n]*\n?/, '');

  function buildLesson() {
    const n = lesson.steps.length;
    document.title = `alia · ${lesson.title || lesson.name}`;
    ui.barTitle.textContent = lesson.title || lesson.name;
    ui.h1.textContent = lesson.title || lesson.name;
    ui.env.textContent = lesson.environment || '';
    ui.env.hidden = !lesson.environment;
    ui.intro.replaceChildren(render(lesson.intro));
    ui.steps.replaceChildren();
    stepEls.length = 0;
    lesson.steps.forEach((st, i) => {
      const num = i + 1;
      const li = el('li', 'step');
      li.dataset.step = String(num);
      const head = el('button', 'step-head');
      head.type = 'button';
      head.append(el('span', 'step-n', String(num)),
        el('span', 'step-title', st.title || `Step ${num}`), el('span', 'step-mark'));
      const body = el('div', 'step-body');
      const md = el('div', 'md');
      md.append(render(stepBody(st.markdown)));
      const foot = el('div', 'step-foot');
      const msg = el('span', 'check-msg');
      msg.setAttribute('role', 'status');
      let check = null;
      if (st.check) {
        check = el('button', 'btn btn-sm check', 'Check');
        check.type = 'button';
        check.title = 'Check this step in your sandbox';
        check.addEventListener('click', () => checkStep(num));
        foot.append(check, msg);
      } else {
        const next = el('button', 'btn btn-sm btn-ghost next', num === n ? 'Finish' : 'Next step');
        next.type = 'button';
        next.addEventListener('click', () => advanceLocally(num));
        foot.append(next, msg);
      }
      const out = el('pre', 'check-out');
      out.hidden = true;
      body.append(md, foot, out);
      li.append(head, body);
      head.addEventListener('click', () => {
        if (li.dataset.state === 'passed') li.classList.toggle('open');
      });
      ui.steps.append(li);
      stepEls.push({ li, head, check, msg, out, fails: 0 });
    });
    ui.loading.hidden = true;
    ui.notice.hidden = true;
    ui.lesson.hidden = false;
    showSteps();
  }

  // Marks each step passed, current or future and shows the progress.
  function showSteps(scroll) {
    const n = lesson.steps.length;
    stepEls.forEach((e, i) => {
      const num = i + 1;
      const state = num < current ? 'passed' : num === current ? 'current' : 'future';
      if (e.li.dataset.state !== state) e.li.classList.remove('open');
      e.li.dataset.state = state;
      e.head.disabled = state !== 'passed';
      e.head.setAttribute('aria-expanded', String(state === 'current'));
      e.li.setAttribute('aria-current', state === 'current' ? 'step' : 'false');
      e.head.querySelector('.step-mark').textContent = state === 'passed' ? 'passed' : '';
      if (e.check) e.check.disabled = !sessionId || state !== 'current';
    });
    const passed = Math.min(current - 1, n);
    ui.count.textContent = current > n ? `all ${n} steps done` : `step ${current} of ${n}`;
    ui.meter.style.width = n ? `${(100 * passed) / n}%` : '0';
    ui.done.hidden = current <= n;
    if (scroll) {
      const to = current <= n ? stepEls[current - 1].li : ui.done;
      to.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    }
  }

  // A step without a check: the learner says when it is done. The server
  // takes a check of such a step as passed (nothing runs), so the wall and
  // /progress move on too; without a session it is remembered in this tab.
  async function advanceLocally(num) {
    if (num !== current) return;
    if (sessionId) {
      let r;
      try {
        r = await api('POST', `/api/sessions/${encodeURIComponent(sessionId)}/check`, { step: num });
      } catch (err) {
        r = { ok: false };
      }
      if (!r.ok || !r.data || r.data.passed !== true) return;
    }
    if (num !== current) return;
    current = num + 1;
    if (sessionId) sessionStorage.setItem(`alia.lesson.${sessionId}`, String(current));
    showSteps(true);
  }

  function setCurrent(serverStep) {
    const n = lesson.steps.length;
    let s = Number(serverStep);
    if (!(s >= 1)) s = 1;
    const local = Number(sessionId && sessionStorage.getItem(`alia.lesson.${sessionId}`)) || 0;
    current = Math.min(n + 1, Math.max(s, local));
  }

  async function checkStep(num) {
    const e = stepEls[num - 1];
    if (!sessionId || num !== current) return;
    e.check.disabled = true;
    e.check.textContent = 'Checking…';
    e.msg.textContent = '';
    e.msg.dataset.kind = '';
    e.li.classList.add('checking');
    let r;
    try {
      r = await api('POST', `/api/sessions/${encodeURIComponent(sessionId)}/check`, { step: num });
    } catch (err) {
      r = { status: 0, ok: false, data: { message: `network error: ${err.message}` } };
    }
    e.li.classList.remove('checking');
    e.check.textContent = 'Check';
    e.check.disabled = num !== current;
    if (!r.ok || !r.data || typeof r.data.passed !== 'boolean') {
      e.msg.dataset.kind = 'error';
      e.msg.textContent = r.status === 409 ? 'The session has ended: start again to check.'
        : `Could not check: ${errorText(r)}`;
      return;
    }
    const d = r.data;
    if (d.passed) {
      e.fails = 0;
      e.out.hidden = true;
      e.msg.dataset.kind = 'ok';
      e.msg.textContent = 'Passed';
      if (num === current) current = num + 1;
      showSteps(true);
      return;
    }
    e.fails++;
    e.li.classList.remove('failed');
    void e.li.offsetWidth; // restart the shake
    e.li.classList.add('failed');
    e.msg.dataset.kind = 'fail';
    const why = d.timed_out ? 'the check timed out' : `exit code ${d.exit_code}`;
    e.msg.textContent = `Not yet (${why})${e.fails > 1 ? ` · try ${e.fails}` : ''}`;
    const text = String(d.output || '').replace(/\s+$/, '');
    e.out.textContent = text || '(the check printed nothing)';
    e.out.hidden = false;
    e.out.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  // --- the session ------------------------------------------------------------------

  function showSession(id) {
    sessionId = id;
    ui.sid.textContent = id.slice(0, 8);
    ui.sid.title = `session ${id}`;
    ui.replay.href = `/play/${encodeURIComponent(id)}`;
    ui.replay.hidden = true;
    history.replaceState(null, '', `/learn/${encodeURIComponent(name)}?session=${encodeURIComponent(id)}`);
  }

  async function newSession() {
    const me = tty.pending();
    tty.clear();
    sessionId = null;
    ui.restart.hidden = true;
    ui.sid.textContent = '';
    ui.replay.hidden = true;
    setViewers(0);
    setStatus('starting', lesson.environment ? `starting a ${lesson.environment} sandbox…` : 'starting a sandbox…');
    for (const e of stepEls) { e.msg.textContent = ''; e.out.hidden = true; e.fails = 0; }
    current = 1;
    showSteps();
    let r;
    try {
      r = await api('POST', '/api/sessions', { lesson: name, cols: tty.term.cols, rows: tty.term.rows });
    } catch (err) {
      r = { status: 0, ok: false, data: { message: `network error: ${err.message}` } };
    }
    if (me !== tty.session()) return;
    if (r.status !== 201 || !r.data || !ID_RE.test(r.data.id || '')) {
      setStatus('error', `could not start a terminal: ${errorText(r)}`);
      ui.restart.hidden = false;
      return;
    }
    showSession(r.data.id);
    setCurrent(r.data.step);
    showSteps();
    tty.attach(r.data.id, false, r.data.ws, true);
  }

  // Goes back to session id (from ?session=ID): its step from the server.
  async function resume(id) {
    tty.clear();
    setStatus('starting', 'finding your session…');
    let r;
    try { r = await api('GET', `/api/sessions/${encodeURIComponent(id)}`); } catch { r = { status: 0 }; }
    if (r.ok && r.data && r.data.lesson && r.data.lesson !== name) {
      // Another lesson's session: that is where it belongs.
      location.replace(`/learn/${encodeURIComponent(r.data.lesson)}?session=${encodeURIComponent(id)}`);
      return;
    }
    showSession(id);
    if (r.ok && r.data) setCurrent(r.data.step);
    showSteps();
    const s = tty.attach(id, false, null, false);
    if (r.status === 404 || (r.data && r.data.state === 'ended')) ui.restart.hidden = false;
    return s;
  }

  // --- the split between lesson and terminal ------------------------------------------

  function setSplit(px, save) {
    const w = ui.learn.clientWidth;
    const max = Math.max(MIN_LESSON_PX, w - MIN_TERM_PX);
    const v = Math.round(Math.min(max, Math.max(MIN_LESSON_PX, px)));
    ui.learn.style.setProperty('--lesson-w', `${v}px`);
    ui.split.setAttribute('aria-valuenow', String(Math.round((100 * v) / Math.max(1, w))));
    if (save) localStorage.setItem(SPLIT_KEY, String(v / Math.max(1, w)));
  }

  function initSplit() {
    const saved = Number(localStorage.getItem(SPLIT_KEY));
    if (saved > 0.1 && saved < 0.9) setSplit(saved * ui.learn.clientWidth, false);
    ui.split.setAttribute('aria-valuemin', '0');
    ui.split.setAttribute('aria-valuemax', '100');
    let dragging = false;
    ui.split.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      dragging = true;
      ui.split.setPointerCapture(ev.pointerId);
      ui.learn.classList.add('dragging');
      ev.preventDefault();
    });
    ui.split.addEventListener('pointermove', (ev) => {
      if (!dragging) return;
      setSplit(ev.clientX - ui.learn.getBoundingClientRect().left, false);
    });
    const end = (ev) => {
      if (!dragging) return;
      dragging = false;
      ui.learn.classList.remove('dragging');
      setSplit(ev.clientX - ui.learn.getBoundingClientRect().left, true);
    };
    ui.split.addEventListener('pointerup', end);
    ui.split.addEventListener('pointercancel', end);
    ui.split.addEventListener('dblclick', () => {
      localStorage.removeItem(SPLIT_KEY);
      ui.learn.style.removeProperty('--lesson-w');
    });
    ui.split.addEventListener('keydown', (ev) => {
      const step = ev.shiftKey ? 80 : 24;
      const now = ui.pane.getBoundingClientRect().width;
      if (ev.key === 'ArrowLeft') setSplit(now - step, true);
      else if (ev.key === 'ArrowRight') setSplit(now + step, true);
      else return;
      ev.preventDefault();
    });
  }

  // --- start ---------------------------------------------------------------------------

  ui.restart.addEventListener('click', () => { newSession(); });
  ui.takeback.addEventListener('click', () => tty.sendJSON({ type: 'control', action: 'return' }));
  initSplit();

  (async () => {
    if (!name) {
      notice('No such lesson', 'A lesson address looks like /learn/first-steps.');
      return;
    }
    let me;
    try { me = await api('GET', '/api/me'); } catch {
      notice('The server does not answer', 'Try again in a moment.');
      return;
    }
    if (me.status === 401) {
      notice('Sign in first', 'Sign in on the start page, then open this lesson again.');
      return;
    }
    const r = await api('GET', `/api/lessons/${encodeURIComponent(name)}`).catch(() => ({ status: 0 }));
    if (r.status === 404) {
      notice('No such lesson', `There is no lesson called "${name}".`);
      return;
    }
    if (!r.ok || !r.data || !Array.isArray(r.data.steps)) {
      notice('Could not load the lesson', errorText(r));
      return;
    }
    lesson = r.data;
    buildLesson();
    const want = new URLSearchParams(location.search).get('session');
    if (want && ID_RE.test(want)) await resume(want);
    else await newSession();
  })();
})();
