// SPDX-License-Identifier: ISC
// alia browser app: the landing page ("New terminal" with the choice of
// environment, the lessons), and a full-window terminal attached to a
// session (terminal.js does the terminal, its websocket, the bar and control
// with consent; common.js the API: global Alia).
// The URL carries the session (#/s/ID, or #/s/ID/watch to follow read-only),
// so a reload reattaches. No framework, no bundler: xterm.js, addon-fit,
// common.js and terminal.js are loaded as classic scripts before this file.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const ui = {
    landing: $('landing'),
    session: $('session'),
    host: $('terminal'),
    sid: $('sid'),
    mode: $('mode'),
    viewers: $('viewers'),
    replay: $('replay'),
    toast: $('toast'),
    newButtons: document.querySelectorAll('[data-action="new"]'),
    holder: $('holder'),
    consent: $('consent'),
    consentText: $('consent-text'),
    ask: document.querySelector('[data-action="ask"]'),
    giveback: document.querySelector('[data-action="giveback"]'),
    share: document.querySelector('[data-action="share"]'),
    barNew: document.querySelector('.bar [data-action="new"]'),
    envBox: $('env-box'),
    env: $('env'),
    envNote: $('env-note'),
    lessons: $('lessons'),
    lessonList: $('lesson-list'),
  };

  const { api, errorText, el } = Alia;
  let environments = []; // GET /api/environments, when the server has them

  const { setStatus, setViewers, toast } = Alia.bar(ui);

  // --- control with consent --------------------------------------------------

  // Who holds control: null, the owner; else a watcher's name.
  function setHolder(s, holder) {
    s.holder = holder;
    const mine = holder !== null && holder === s.user;
    ui.holder.hidden = holder === null;
    ui.holder.textContent = mine ? 'you have control' : `${holder} has control`;
    ui.giveback.hidden = !(mine || (holder !== null && !s.watch));
    ui.giveback.textContent = mine ? 'Give back control' : 'Take back control';
    ui.ask.hidden = !(s.watch && s.mayAsk && holder === null);
    tty.term.options.disableStdin = s.watch && !mine;
    ui.mode.hidden = !s.watch || mine;
  }

  function controlSend(action) {
    tty.sendJSON({ type: 'control', action });
  }

  const control = Alia.control(ui, {
    send: controlSend, holder: setHolder, toast, back: 'Control is back with the owner',
  });

  // --- terminal --------------------------------------------------------------

  const tty = Alia.terminal(ui.host, {
    status: setStatus,
    viewers: setViewers,
    visible: () => !ui.session.hidden,
    hello(s) {
      ui.share.hidden = s.watch;
      control.reset(s);
      ui.mode.hidden = !s.watch;
    },
    ended(s) {
      ui.barNew.hidden = false;
      ui.barNew.focus();
      ui.replay.hidden = !s.id;
    },
    message: control.message,
  });

  function showSessionView() {
    document.body.classList.add('in-session');
    ui.landing.hidden = true;
    ui.session.hidden = false;
    tty.clear();
  }

  function showLanding() {
    document.body.classList.remove('in-session');
    ui.session.hidden = true;
    ui.landing.hidden = false;
    document.title = 'alia — terminals in your browser';
  }

  // --- session lifecycle -------------------------------------------------------

  async function newSession() {
    const env = ui.env && !ui.envBox.hidden ? ui.env.value : '';
    const me = tty.pending();
    showSessionView();
    ui.sid.textContent = '';
    ui.replay.hidden = true;
    ui.mode.hidden = true;
    ui.barNew.hidden = true;
    setViewers(0);
    setStatus('starting', env ? `starting a ${env} sandbox…` : 'starting a sandbox…');
    const body = { cols: tty.term.cols, rows: tty.term.rows };
    if (env) body.environment = env;
    let r;
    try {
      r = await api('POST', '/api/sessions', body);
    } catch (e) {
      r = { status: 0, ok: false, data: { message: `network error: ${e.message}` } };
    }
    if (me !== tty.session()) return;
    if (r.status !== 201 || !r.data || !r.data.id) {
      setStatus('error', `could not start a terminal: ${errorText(r)}`);
      ui.barNew.hidden = false;
      return;
    }
    history.pushState(null, '', `#/s/${r.data.id}`);
    attach(r.data.id, false, r.data.ws, true);
  }

  // The session view is showing; attaches it to session id.
  function attach(id, watch, wsPath, fresh) {
    ui.sid.textContent = id.slice(0, 8);
    ui.sid.title = `session ${id}`;
    ui.replay.hidden = true;
    ui.replay.href = `play/${encodeURIComponent(id)}`;
    ui.mode.hidden = !watch;
    ui.barNew.hidden = true;
    setViewers(0);
    document.title = `alia · ${id.slice(0, 8)}`;
    return tty.attach(id, watch, wsPath, fresh);
  }

  // --- environments and lessons ------------------------------------------------

  // The environment choice beside New terminal; hidden while the server
  // has no /api/environments or only one environment.
  async function loadEnvironments() {
    let r;
    try { r = await api('GET', '/api/environments'); } catch { return; }
    if (!r.ok || !Array.isArray(r.data)) return;
    environments = r.data.filter((e) => e && typeof e.name === 'string');
    const want = ui.env.value || localStorage.getItem('alia.environment') || '';
    ui.env.replaceChildren();
    for (const e of environments) {
      const o = el('option', '', e.name);
      o.value = e.name;
      o.title = e.description || e.image || '';
      if (e.default) o.selected = true;
      ui.env.append(o);
    }
    if (environments.some((e) => e.name === want)) ui.env.value = want;
    ui.envBox.hidden = environments.length < 2;
    describeEnvironment();
  }

  function describeEnvironment() {
    const e = environments.find((x) => x.name === ui.env.value);
    ui.envNote.textContent = e && e.description ? e.description : '';
    ui.envNote.hidden = ui.envBox.hidden || !ui.envNote.textContent;
  }

  // The lessons, each with Start (/learn/NAME); hidden while there are none.
  async function loadLessons() {
    let r;
    try { r = await api('GET', '/api/lessons'); } catch { return; }
    if (!r.ok || !Array.isArray(r.data) || r.data.length === 0) {
      ui.lessons.hidden = true;
      return;
    }
    ui.lessonList.replaceChildren();
    for (const l of r.data) {
      if (!l || typeof l.name !== 'string') continue;
      const li = el('li', 'lesson-card');
      const h = el('h3', '', l.title || l.name);
      const p = el('p', '', l.description || '');
      const steps = Number(l.steps) || 0;
      const meta = el('p', 'lesson-meta', [l.environment, steps === 1 ? '1 step' : `${steps} steps`]
        .filter(Boolean).join(' · '));
      const a = el('a', 'btn btn-sm', 'Start');
      a.href = `learn/${encodeURIComponent(l.name)}`;
      a.setAttribute('aria-label', `Start ${l.title || l.name}`);
      li.append(h, p, meta, a);
      ui.lessonList.append(li);
    }
    ui.lessons.hidden = ui.lessonList.childElementCount === 0;
  }

  // --- routing -----------------------------------------------------------------

  async function openShare(token) {
    tty.stop();
    showSessionView();
    const r = await api('GET', `/api/shares/${encodeURIComponent(token)}`);
    if (!r.ok) {
      setStatus('error', (r.data && r.data.error) || 'this link is not valid');
      return;
    }
    const s = attach(r.data.session, true,
      `/ws/sessions/${encodeURIComponent(r.data.session)}?share=${encodeURIComponent(token)}`, true);
    s.share = true;
    ui.replay.hidden = true;
  }

  async function shareSession() {
    const cur = tty.session();
    if (!cur || !cur.id) return;
    const r = await api('POST', `/api/sessions/${encodeURIComponent(cur.id)}/shares`, { minutes: 60 });
    if (!r.ok) {
      toast((r.data && r.data.error) || `could not make a link (${r.status})`);
      return;
    }
    const url = new URL(r.data.url, location.href).href;
    try { await navigator.clipboard.writeText(url); toast('Read-only link copied (valid 60 min)'); } catch {
      window.prompt('Read-only link, valid 60 minutes:', url);
    }
  }

  function parseHash() {
    const m = /^#\/s\/([A-Za-z0-9-]{1,64})(\/watch)?\/?$/.exec(location.hash);
    return m ? { id: m[1], watch: !!m[2] } : null;
  }

  function route() {
    const share = /^#\/share\/([0-9a-f]{64})$/.exec(location.hash);
    if (share) {
      openShare(share[1]);
      return;
    }
    const want = parseHash();
    if (!want) {
      tty.stop();
      showLanding();
      return;
    }
    const cur = tty.session();
    if (cur && cur.id === want.id && cur.watch === want.watch) return;
    tty.stop();
    showSessionView();
    attach(want.id, want.watch, null, false);
  }

  // --- who is here: sign-in when the server has accounts ------------------------

  const signin = document.querySelector('[data-signin]');
  const whoBadge = document.querySelector('[data-who]');
  const signout = document.querySelector('[data-action="signout"]');

  function signedIn(me) {
    signin.hidden = true;
    for (const b of ui.newButtons) b.disabled = false;
    if (me.auth === 'password') {
      whoBadge.textContent = `${me.user} · ${me.role}`;
      whoBadge.hidden = false;
      signout.hidden = false;
    }
    loadEnvironments();
    loadLessons();
    route();
  }

  function needSignIn() {
    for (const b of ui.newButtons) b.disabled = true;
    whoBadge.hidden = true;
    signout.hidden = true;
    ui.envBox.hidden = true;
    ui.envNote.hidden = true;
    ui.lessons.hidden = true;
    signin.hidden = false;
    signin.querySelector('input[name="username"]').focus();
  }

  signin.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(signin);
    const err = signin.querySelector('[data-signin-error]');
    err.textContent = '';
    const creds = { username: f.get('username'), password: f.get('password') };
    let r = await api('POST', '/api/login', creds);
    // 503 with Retry-After: the server is checking many sign-ins at once
    // (a class arriving together); wait as told and try again.
    for (let tries = 0; r.status === 503 && r.retryAfter > 0 && tries < 5; tries++) {
      err.textContent = 'Many people are signing in; trying again…';
      await new Promise((ok) => setTimeout(ok, r.retryAfter * 1000));
      r = await api('POST', '/api/login', creds);
    }
    err.textContent = '';
    signin.querySelector('input[name="password"]').value = '';
    if (!r.ok) {
      err.textContent = (r.data && r.data.error) || `sign-in failed (${r.status})`;
      return;
    }
    const me = await api('GET', '/api/me');
    if (me.ok) signedIn(me.data); else needSignIn();
  });

  signout.addEventListener('click', async () => {
    await api('POST', '/api/logout');
    tty.stop();
    history.replaceState(null, '', location.pathname);
    showLanding();
    needSignIn();
  });

  for (const b of ui.newButtons) b.addEventListener('click', () => { newSession(); });
  ui.env.addEventListener('change', () => {
    localStorage.setItem('alia.environment', ui.env.value);
    describeEnvironment();
  });
  ui.ask.addEventListener('click', () => { controlSend('request'); toast('Asked for control…'); });
  ui.share.addEventListener('click', () => { shareSession(); });
  ui.giveback.addEventListener('click', () => controlSend('return'));
  window.addEventListener('popstate', route);
  window.addEventListener('hashchange', route);
  if (/^#\/share\//.test(location.hash)) {
    route(); // a share link needs no sign-in
  } else {
    api('GET', '/api/me').then((me) => {
      if (me.status === 401) needSignIn(); else signedIn(me.data || {});
    }, () => signedIn({}));
  }
})();
