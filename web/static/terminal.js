// SPDX-License-Identifier: ISC
// alia's terminal, shared by the start page (app.js) and the lesson page
// (lesson.js): an xterm.js terminal attached to one session over its
// websocket. Binary frames are output one way and typed input the other;
// text frames are JSON control messages (hello, exit, viewers, control...).
// Every (re)connect begins with a hello and a replay of recent output, which
// repaints the screen; a dropped socket is retried with backoff for as long
// as GET /api/sessions/ID says the session lives. A session that ended
// before the page saw it shows its last screen from the recording.
// What is shown around the terminal is the page's: it passes hooks, and
// may take the bar (status line, viewers, toast) and the handling of control
// with consent from here. Loaded as a classic script after xterm.js,
// addon-fit (globals Terminal and FitAddon) and common.js, whose global
// Alia it extends.
'use strict';

Object.assign(window.Alia, (() => {
  const { api, errorText } = Alia;
  const PING_MS = 25000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 8000;
  const REPLAY_MS = 500; // output this soon after a hello is the server's replay
  // What a terminal answers to queries in its output (cursor position,
  // device attributes, status). Answers to queries in replayed, old output
  // must not reach the shell as if typed.
  const TERMINAL_REPLY = /^(\x1b\[\??\d+(;\d+)*R|\x1b\[[?>]?[\d;]*[cn]|\x1bP[^\x1b]*\x1b\\)+$/;

  const THEME = {
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
  };
  const FONT = 'ui-monospace, "SFMono-Regular", "SF Mono", Menlo, Consolas, ' +
    '"DejaVu Sans Mono", "Liberation Mono", monospace';

  const encoder = new TextEncoder();

  function endText(d) {
    const code = d.exit_code !== undefined && d.exit_code !== null ? d.exit_code : null;
    if (!d.end_reason || d.end_reason === 'exit' || d.end_reason === 'exited') {
      return code === null ? 'session ended' : `exited with code ${code}`;
    }
    return `session ended: ${d.end_reason}`;
  }

  // --- one terminal on a page -----------------------------------------------------

  // Makes the terminal controller for the element host. hooks (all optional):
  //   status(kind, text)  kind: starting | ok | wait | done | error
  //   viewers(n, who)     who is connected to the session
  //   hello(s, m)         (re)connected; s.watch says whether read-only
  //   ended(s, text)      the session is over (exit, gone, not allowed)
  //   message(s, m)       any other control message (control, resync, ...)
  //   visible()           whether the terminal is on screen (refit only then)
  // options: fontSize.
  function terminal(host, hooks = {}, options = {}) {
    const hook = (name, ...args) => { if (hooks[name]) hooks[name](...args); };
    const status = (kind, text) => hook('status', kind, text);
    let term = null;
    let fit = null;
    let cur = null; // the session shown: {id, watch, ws, ...}
    let replaying = 0; // replayed chunks xterm has not finished parsing

    function ensure() {
      if (term) return;
      term = new Terminal({
        cursorBlink: true,
        fontFamily: FONT,
        fontSize: options.fontSize || 14,
        lineHeight: 1.15,
        scrollback: 5000,
        allowProposedApi: false,
        theme: THEME,
      });
      fit = new FitAddon.FitAddon();
      term.loadAddon(fit);
      term.open(host);
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
          if ((!hooks.visible || hooks.visible()) && cur && !cur.watch) fit.fit();
        });
      };
      new ResizeObserver(refit).observe(host);
      window.addEventListener('resize', refit);
    }

    // A clean terminal, fitted and focused: before a session is shown.
    function clear() {
      ensure();
      term.reset();
      fit.fit();
      term.focus();
    }

    // Forgets the session shown (closing its socket); then a placeholder
    // for one being created, which the caller compares with session() after
    // its await to know it is still wanted.
    function pending() {
      stop();
      cur = { id: null, watch: false, ended: false };
      return cur;
    }

    // Shows session id: watch read-only or not, over wsPath (default its
    // /ws/sessions/ID); fresh: just created, so connect without asking.
    function attach(id, watch, wsPath, fresh) {
      ensure();
      cur = {
        id, watch, wsPath: wsPath || `/ws/sessions/${encodeURIComponent(id)}`,
        ws: null, attempt: 0, timer: 0, ping: 0, ended: false, everConnected: false, why: '',
        replayUntil: 0, resetPending: false,
      };
      term.options.disableStdin = watch;
      const s = cur;
      if (fresh) {
        connect(s);
      } else {
        // Reattaching from the URL: do not open a socket to a session that is gone.
        checkSession(s).then((alive) => { if (alive) connect(s); });
      }
      return s;
    }

    function stop() {
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
      status(s.everConnected ? 'wait' : 'starting', 'connecting…');
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
        hook('viewers', 0);
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
        hook('hello', s, m);
        term.options.disableStdin = s.watch;
        status('ok', s.watch ? 'connected, watching' : 'connected');
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
          if (s === cur && r.ok && r.data) status('done', endText(r.data));
        }, () => {});
        break;
      case 'error':
        status('error', m.message || 'error');
        break;
      case 'viewers':
        hook('viewers', m.count, m.who);
        break;
      case 'pong':
        break;
      default:
        hook('message', s, m);
        break;
      }
    }

    function ended(s, text) {
      s.ended = true;
      clearTimeout(s.timer);
      clearInterval(s.ping);
      status('done', text);
      term.options.disableStdin = true;
      term.write('\x1b[?25l'); // hide the cursor: nothing more will be typed here
      hook('viewers', 0);
      hook('ended', s, text);
    }

    // A session that ended before this page saw it: show its last screen
    // from the recording (asciicast v2), when the server has one.
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

    // Asks the server whether the session is still there; shows why when
    // not. Resolves true when a (re)connect makes sense.
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
        status('wait', `reconnecting in ${Math.ceil(left / 1000)}s${why}`);
        s.timer = setTimeout(tick, Math.min(left, 250));
      };
      tick();
    }

    function sendJSON(obj) {
      if (cur && cur.ws && cur.ws.readyState === WebSocket.OPEN) cur.ws.send(JSON.stringify(obj));
    }

    // Input as typed: one binary frame. False when it could not be sent.
    function sendInput(bytes) {
      if (!cur || cur.ended) return false;
      if (cur.watch && !(cur.holder && cur.holder === cur.user)) return false;
      if (!cur.ws || cur.ws.readyState !== WebSocket.OPEN) return false;
      cur.ws.send(bytes);
      return true;
    }

    return {
      get term() { ensure(); return term; },
      session: () => cur,
      clear,
      pending,
      attach,
      stop,
      sendJSON,
      sendInput,
      type: (text) => sendInput(encoder.encode(text)),
    };
  }

  // --- around the terminal -------------------------------------------------------

  // The bar over a terminal: the status line (common.js), who watches
  // (ui.viewers) and a passing message (ui.toast).
  function bar(ui) {
    let toastTimer = 0;
    return {
      setStatus: Alia.status,
      setViewers(n, who) {
        ui.viewers.hidden = !(n > 0);
        ui.viewers.textContent = n === 1 ? '1 viewer' : `${n} viewers`;
        ui.viewers.title = (who || []).map((v) => `${v.user} (${v.mode})`).join(', ');
      },
      toast(text) {
        ui.toast.textContent = text;
        ui.toast.hidden = false;
        clearTimeout(toastTimer);
        toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 2500);
      },
    };
  }

  // Control with consent, for the session's owner and those who watch: the
  // owner's prompt (ui.consent, ui.consentText, its grant and deny buttons)
  // and the messages saying who holds control. o: send(action) sends a
  // control action, holder(s, name) shows who holds it (null: the owner),
  // toast(text), back: the toast when control returns to the owner.
  // Returns {reset(s), message(s, m)} for the terminal's hello and message
  // hooks.
  function control(ui, o) {
    const answer = (action) => () => {
      ui.consent.hidden = true;
      o.send(action);
    };
    document.querySelector('[data-action="grant"]').addEventListener('click', answer('grant'));
    document.querySelector('[data-action="deny"]').addEventListener('click', answer('deny'));
    return {
      reset(s) {
        ui.consent.hidden = true;
        o.holder(s, null);
      },
      message(s, m) {
        switch (m.type) {
        case 'control_request':
          ui.consentText.textContent = `${m.from} asks to take control of your terminal.`;
          ui.consent.hidden = false;
          break;
        case 'control':
          ui.consent.hidden = true;
          o.holder(s, m.holder);
          o.toast(m.holder === null ? o.back : `${m.holder} has control`);
          break;
        case 'control_denied':
          o.toast(`${m.by} declined your request`);
          break;
        case 'resync':
          o.toast('Output was catching up — screen repainted');
          break;
        default:
          break;
        }
      },
    };
  }

  return { endText, terminal, bar, control };
})());
