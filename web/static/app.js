// SPDX-License-Identifier: ISC
// alia browser app: the landing page's "New terminal" button, and a
// full-window xterm.js terminal attached to a session over a websocket.
// The URL carries the session (#/s/ID, or #/s/ID/watch to follow read-only),
// so a reload reattaches. No framework, no bundler: xterm.js and addon-fit
// are loaded as UMD scripts (globals Terminal and FitAddon) before this file.
'use strict';

(() => {
  const PING_MS = 25000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 8000;
  const REPLAY_MS = 500; // output this soon after a hello is the server's replay
  // What a terminal answers to queries in its output (cursor position,
  // device attributes, status). Answers to queries in replayed, old output
  // must not reach the shell as if typed.
  const TERMINAL_REPLY = /^(\x1b\[\??\d+(;\d+)*R|\x1b\[[?>]?[\d;]*[cn]|\x1bP[^\x1b]*\x1b\\)+$/;

  const $ = (id) => document.getElementById(id);
  const ui = {
    landing: $('landing'),
    session: $('session'),
    host: $('terminal'),
    sid: $('sid'),
    mode: $('mode'),
    status: $('status'),
    statusText: $('status-text'),
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
  };

  const encoder = new TextEncoder();
  let term = null;
  let fit = null;
  let cur = null; // the session being shown: {id, watch, ws, ...}
  let replaying = 0; // replayed chunks xterm has not finished parsing

  // --- status line ---------------------------------------------------------

  // kind: starting | ok | wait | done | error
  function setStatus(kind, text) {
    ui.status.dataset.kind = kind;
    ui.statusText.textContent = text;
  }

  function setViewers(n, who) {
    ui.viewers.hidden = !(n > 0);
    ui.viewers.textContent = n === 1 ? '1 viewer' : `${n} viewers`;
    ui.viewers.title = (who || []).map((v) => `${v.user} (${v.mode})`).join(', ');
  }

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
    term.options.disableStdin = s.watch && !mine;
    ui.mode.hidden = !s.watch || mine;
  }

  function controlSend(action) {
    sendJSON({ type: 'control', action });
  }

  let toastTimer = 0;
  function toast(text) {
    ui.toast.textContent = text;
    ui.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 2500);
  }

  // --- terminal --------------------------------------------------------------

  function ensureTerminal() {
    if (term) return;
    term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "SFMono-Regular", "SF Mono", Menlo, Consolas, ' +
        '"DejaVu Sans Mono", "Liberation Mono", monospace',
      fontSize: 14,
      lineHeight: 1.15,
      scrollback: 5000,
      allowProposedApi: false,
      theme: {
        background: '#0a0c11',
        foreground: '#d5dae4',
        cursor: '#7ee0a1',
        cursorAccent: '#0a0c11',
        selectionBackground: 'rgba(138, 180, 255, 0.35)',
        black: '#1b1f2a', brightBlack: '#6b7487',
        red: '#ff6b6b', brightRed: '#ff8787',
        green: '#7ee0a1', brightGreen: '#a3f0bf',
        yellow: '#f5c56b', brightYellow: '#ffd98a',
        blue: '#8ab4ff', brightBlue: '#a9c7ff',
        magenta: '#c49bff', brightMagenta: '#d6b8ff',
        cyan: '#6fd6e0', brightCyan: '#98e6ee',
        white: '#d5dae4', brightWhite: '#ffffff',
      },
    });
    fit = new FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(ui.host);
    window.term = term; // for tests and the curious

    term.onData((s) => {
      if (replaying > 0 && TERMINAL_REPLY.test(s)) return;
      sendInput(encoder.encode(s));
    });
    // onBinary carries raw bytes as a string of code points 0-255.
    term.onBinary((s) => sendInput(Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff)));
    term.onResize(({ cols, rows }) => {
      if (cur && !cur.watch) sendJSON({ type: 'resize', cols, rows });
    });

    let raf = 0;
    const refit = () => {
      cancelAnimationFrame(raf);
      raf = requestAnimationFrame(() => {
        if (!ui.session.hidden && cur && !cur.watch) fit.fit();
      });
    };
    new ResizeObserver(refit).observe(ui.host);
    window.addEventListener('resize', refit);
  }

  function showSessionView() {
    document.body.classList.add('in-session');
    ui.landing.hidden = true;
    ui.session.hidden = false;
    ensureTerminal();
    term.reset();
    fit.fit();
    term.focus();
  }

  function showLanding() {
    document.body.classList.remove('in-session');
    ui.session.hidden = true;
    ui.landing.hidden = false;
    document.title = 'alia — terminals in your browser';
  }

  // --- session lifecycle -------------------------------------------------------

  async function api(method, path, body) {
    const opts = { method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = { message: text.trim() }; }
    }
    return { status: res.status, ok: res.ok, data, retryAfter: Number(res.headers.get('Retry-After')) || 0 };
  }

  function errorText(r) {
    const d = r.data || {};
    return d.error || d.message || `HTTP ${r.status}`;
  }

  async function newSession() {
    stopSession();
    showSessionView();
    cur = { id: null, watch: false };
    const me = cur;
    ui.sid.textContent = '';
    ui.replay.hidden = true;
    ui.mode.hidden = true;
    ui.barNew.hidden = true;
    setViewers(0);
    setStatus('starting', 'starting a sandbox…');
    let r;
    try {
      r = await api('POST', '/api/sessions', { cols: term.cols, rows: term.rows });
    } catch (e) {
      r = { status: 0, ok: false, data: { message: `network error: ${e.message}` } };
    }
    if (me !== cur) return;
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
    cur = {
      id, watch, wsPath: wsPath || `/ws/sessions/${encodeURIComponent(id)}`,
      ws: null, attempt: 0, timer: 0, ping: 0, ended: false, everConnected: false, why: '',
      replayUntil: 0, resetPending: false,
    };
    ui.sid.textContent = id.slice(0, 8);
    ui.sid.title = `session ${id}`;
    ui.replay.hidden = true;
    ui.replay.href = `play/${encodeURIComponent(id)}`;
    ui.mode.hidden = !watch;
    ui.barNew.hidden = true;
    setViewers(0);
    document.title = `alia · ${id.slice(0, 8)}`;
    term.options.disableStdin = watch;
    const s = cur;
    if (fresh) {
      connect(s);
    } else {
      // Reattaching from the URL: do not open a socket to a session that is gone.
      checkSession(s).then((alive) => { if (alive) connect(s); });
    }
  }

  function stopSession() {
    if (!cur) return;
    const s = cur;
    cur = null;
    s.ended = true;
    clearTimeout(s.timer);
    clearInterval(s.ping);
    if (s.ws) {
      try { s.ws.close(1000); } catch { /* already closed */ }
    }
  }

  function wsURL(path) {
    if (/^wss?:/.test(path)) return path;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}${path}`;
  }

  function connect(s) {
    if (s !== cur || s.ended) return;
    setStatus(s.everConnected ? 'wait' : 'starting', 'connecting…');
    const sep = s.wsPath.includes('?') ? '&' : '?';
    const ws = new WebSocket(wsURL(s.wsPath + (s.watch ? `${sep}mode=watch` : '')));
    ws.binaryType = 'arraybuffer';
    s.ws = ws;
    ws.onmessage = (ev) => {
      if (s !== cur || ws !== s.ws) return;
      if (typeof ev.data !== 'string') {
        if (performance.now() < s.replayUntil) {
          // The replay repaints the screen from scratch. Without one (a
          // restarted worker has none), the old screen stays up.
          if (s.resetPending) {
            s.resetPending = false;
            term.reset();
          }
          replaying++;
          term.write(new Uint8Array(ev.data), () => { replaying--; });
        } else {
          term.write(new Uint8Array(ev.data));
        }
        return;
      }
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      onControl(s, m);
    };
    ws.onclose = (ev) => {
      clearInterval(s.ping);
      if (s !== cur || ws !== s.ws || s.ended) return;
      s.ws = null;
      s.why = ev.code !== 1000 && ev.reason ? ev.reason : '';
      setViewers(0);
      checkSession(s).then((alive) => { if (alive) scheduleReconnect(s); });
    };
    ws.onerror = () => { /* onclose follows and decides */ };
  }

  function onControl(s, m) {
    switch (m.type) {
    case 'hello':
      // Every (re)connect replays recent output: the first replayed bytes
      // start from a clean screen.
      s.resetPending = true;
      s.replayUntil = performance.now() + REPLAY_MS;
      s.attempt = 0;
      s.everConnected = true;
      s.watch = m.mode === 'watch';
      s.user = m.user;
      s.mayAsk = !!m.may_ask_control;
      ui.share.hidden = s.watch;
      ui.consent.hidden = true;
      setHolder(s, null);
      ui.mode.hidden = !s.watch;
      term.options.disableStdin = s.watch;
      setStatus('ok', s.watch ? 'connected, watching' : 'connected');
      if (s.watch) {
        if (m.cols > 0 && m.rows > 0) term.resize(m.cols, m.rows);
      } else {
        fit.fit();
        sendJSON({ type: 'resize', cols: term.cols, rows: term.rows });
      }
      clearInterval(s.ping);
      s.ping = setInterval(() => sendJSON({ type: 'ping' }), PING_MS);
      term.focus();
      break;
    case 'exit':
      ended(s, `exited with code ${m.code}`);
      // Killed from elsewhere (deleted, idle, ...)? The session says why.
      api('GET', `/api/sessions/${encodeURIComponent(s.id)}`).then((r) => {
        if (s === cur && r.ok && r.data) setStatus('done', endText(r.data));
      }, () => {});
      break;
    case 'error':
      setStatus('error', m.message || 'error');
      break;
    case 'viewers':
      setViewers(m.count, m.who);
      break;
    case 'control_request':
      ui.consentText.textContent = `${m.from} asks to take control of your terminal.`;
      ui.consent.hidden = false;
      break;
    case 'control':
      ui.consent.hidden = true;
      setHolder(s, m.holder);
      toast(m.holder === null ? 'Control is back with the owner' : `${m.holder} has control`);
      break;
    case 'control_denied':
      toast(`${m.by} declined your request`);
      break;
    case 'resync':
      toast('Output was catching up — screen repainted');
      break;
    case 'pong':
    default:
      break;
    }
  }

  function ended(s, text) {
    s.ended = true;
    clearTimeout(s.timer);
    clearInterval(s.ping);
    setStatus('done', text);
    term.options.disableStdin = true;
    term.write('\x1b[?25l'); // hide the cursor: nothing more will be typed here
    ui.barNew.hidden = false;
    ui.barNew.focus();
    ui.replay.hidden = !s.id;
    setViewers(0);
  }

  // A session that ended before this page saw it: show its last screen from
  // the recording (asciicast v2), when the server has one.
  async function showRecording(s) {
    let res;
    try {
      res = await fetch(`/api/sessions/${encodeURIComponent(s.id)}/recording`,
        { credentials: 'same-origin' });
    } catch { return; }
    if (!res.ok || s !== cur) return;
    const text = await res.text();
    if (s !== cur || text.length > 8 << 20) return;
    const lines = text.split('\n');
    let head;
    try { head = JSON.parse(lines[0]); } catch { return; }
    if (head.width > 0 && head.height > 0) term.resize(head.width, head.height);
    term.reset();
    for (const line of lines.slice(1)) {
      if (!line) continue;
      try {
        const [, kind, data] = JSON.parse(line);
        if (kind === 'o') term.write(data);
        else if (kind === 'r') {
          const [c, r] = String(data).split('x').map(Number);
          if (c > 0 && r > 0) term.resize(c, r);
        }
      } catch { /* skip a bad line */ }
    }
    term.write('\x1b[?25l');
  }

  function endText(d) {
    const code = d.exit_code !== undefined && d.exit_code !== null ? d.exit_code : null;
    if (!d.end_reason || d.end_reason === 'exit' || d.end_reason === 'exited') {
      return code === null ? 'session ended' : `exited with code ${code}`;
    }
    return `session ended: ${d.end_reason}`;
  }

  // Asks the server whether the session is still there; shows why when not.
  // Resolves true when a (re)connect makes sense.
  async function checkSession(s) {
    // Through a share link the session API is not ours to ask: try again.
    if (s.share) return !s.ended;
    let r;
    try {
      r = await api('GET', `/api/sessions/${encodeURIComponent(s.id)}`);
    } catch {
      return s === cur && !s.ended; // server unreachable: keep trying
    }
    if (s !== cur || s.ended) return false;
    if (r.status === 404) {
      ended(s, 'session not found');
      return false;
    }
    if (r.ok && r.data && r.data.state === 'ended') {
      ended(s, endText(r.data));
      if (!s.everConnected) showRecording(s);
      return false;
    }
    if (r.status === 401 || r.status === 403) {
      ended(s, `not allowed: ${errorText(r)}`);
      return false;
    }
    return true;
  }

  function scheduleReconnect(s) {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** s.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    s.attempt++;
    const due = Date.now() + delay;
    const tick = () => {
      if (s !== cur || s.ended) return;
      const left = due - Date.now();
      if (left <= 0) {
        connect(s);
        return;
      }
      const why = s.why ? ` (${s.why})` : '';
      setStatus('wait', `reconnecting in ${Math.ceil(left / 1000)}s${why}`);
      s.timer = setTimeout(tick, Math.min(left, 250));
    };
    tick();
  }

  function sendJSON(obj) {
    if (cur && cur.ws && cur.ws.readyState === WebSocket.OPEN) cur.ws.send(JSON.stringify(obj));
  }

  function sendInput(bytes) {
    if (!cur || cur.ended) return;
    if (cur.watch && !(cur.holder && cur.holder === cur.user)) return;
    if (cur.ws && cur.ws.readyState === WebSocket.OPEN) cur.ws.send(bytes);
  }

  // --- routing -----------------------------------------------------------------

  async function openShare(token) {
    stopSession();
    showSessionView();
    const r = await api('GET', `/api/shares/${encodeURIComponent(token)}`);
    if (!r.ok) {
      setStatus('error', (r.data && r.data.error) || 'this link is not valid');
      return;
    }
    attach(r.data.session, true,
      `/ws/sessions/${encodeURIComponent(r.data.session)}?share=${encodeURIComponent(token)}`, true);
    cur.share = true;
    ui.replay.hidden = true;
  }

  async function shareSession() {
    if (!cur) return;
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
      stopSession();
      showLanding();
      return;
    }
    if (cur && cur.id === want.id && cur.watch === want.watch) return;
    stopSession();
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
    route();
  }

  function needSignIn() {
    for (const b of ui.newButtons) b.disabled = true;
    whoBadge.hidden = true;
    signout.hidden = true;
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
    stopSession();
    history.replaceState(null, '', location.pathname);
    showLanding();
    needSignIn();
  });

  for (const b of ui.newButtons) b.addEventListener('click', () => { newSession(); });
  ui.ask.addEventListener('click', () => { controlSend('request'); toast('Asked for control…'); });
  ui.share.addEventListener('click', () => { shareSession(); });
  ui.giveback.addEventListener('click', () => controlSend('return'));
  document.querySelector('[data-action="grant"]').addEventListener('click', () => {
    ui.consent.hidden = true;
    controlSend('grant');
  });
  document.querySelector('[data-action="deny"]').addEventListener('click', () => {
    ui.consent.hidden = true;
    controlSend('deny');
  });
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
