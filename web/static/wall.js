// SPDX-License-Identifier: ISC
// The instructor wall: a live tile of every running session the signed-in
// instructor (or admin) may see, over one websocket (/ws/wall?ids=...).
// Each binary frame is [tile number][1: snapshot, clear first | 0: more
// output][bytes]; the tile number is the session's place in ?ids=. Badges
// come from /api/sessions, polled: the environment, the lesson and step
// (green when done, red after failed checks), active or idle, how many
// watch. A click opens the session to watch, where "Ask for control" is.
//
// Tiles are readable, not thumbnails: the terminal is drawn at 11 px at
// its real size and the tile is a window on it that follows the cursor
// (a wide or tall terminal is cut at the right and top, never scaled
// down); a tile grows on hover or focus. Those who need help come first:
// failed checks on their step, then the longest on their step, then the
// longest idle. The order changes with the poll, never under the pointer.
// The API, status line and helpers are common.js's (global Alia).
'use strict';

(() => {
  const POLL_MS = 5000;
  const IDLE_S = 60;
  const FONT_PX = 11;
  const $ = (id) => document.getElementById(id);
  const { getSignedIn, status, notice } = Alia;
  const wall = $('wall');
  const tiles = new Map(); // id -> {el, term, tags, badge, last, session, raf}
  let order = []; // ids, in websocket tile order
  let ws = null;
  let me = null;
  window.wallTerms = tiles; // for tests: each tile's xterm

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? `${s} s` : `${Math.round(s / 60)} min`;
  }

  const time = (iso) => {
    const t = Date.parse(iso || '');
    return Number.isFinite(t) ? t : 0;
  };

  function span(cls, text, title) {
    const b = Alia.el('span', cls, text);
    if (title) b.title = title;
    return b;
  }

  // Where a lesson session is: null without a lesson.
  function lessonOf(s) {
    if (!s.lesson || !(s.steps > 0)) return null;
    const done = s.step > s.steps;
    const since = time(s.step_since);
    return {
      done,
      fails: Number(s.failed_checks) || 0,
      stuckMs: !done && since ? Date.now() - since : 0,
      text: done ? `${s.lesson} · step ${s.steps}/${s.steps} done` : `${s.lesson} · step ${s.step}/${s.steps}`,
    };
  }

  function badges(t) {
    const s = t.session;
    const idle = (Date.now() - t.last) / 1000;
    const watchers = Math.max(0, (s.viewers || 0));
    const tags = [];
    if (s.environment) tags.push(span('badge badge-env', s.environment, `environment ${s.environment}`));
    const l = lessonOf(s);
    if (l) {
      const cls = l.done ? 'badge-done' : l.fails > 0 ? 'badge-fail' : 'badge-lesson';
      const b = span(`badge badge-step ${cls}`, l.fails > 0 && !l.done ? `${l.text} · ${l.fails} failed` : l.text,
        `${s.lesson_title || s.lesson}${l.done ? ': every step passed' : `: on step ${s.step} for ${ago(l.stuckMs)}`}`);
      tags.push(b);
    }
    t.tags.replaceChildren(...tags);
    const act = [
      span(`badge ${idle > IDLE_S ? 'badge-idle' : 'badge-live'}`, idle > IDLE_S ? `idle ${ago(idle * 1000)}` : 'active'),
      span('badge badge-last', `last output ${ago(Date.now() - t.last)} ago`),
    ];
    if (l && !l.done) act.push(span('badge badge-stuck', `${ago(l.stuckMs)} on this step`));
    if (watchers > 0) act.push(span('badge badge-watched', watchers === 1 ? '1 connected' : `${watchers} connected`));
    t.badge.replaceChildren(...act);
    t.el.classList.toggle('needs-help', !!(l && !l.done && l.fails > 0));
    t.el.classList.toggle('is-done', !!(l && l.done));
  }

  // Keeps the cursor's line in the tile's window.
  function follow(t) {
    cancelAnimationFrame(t.raf);
    t.raf = requestAnimationFrame(() => {
      const screen = t.term.element && t.term.element.querySelector('.xterm-screen');
      if (!screen) return;
      const full = screen.offsetHeight;
      const view = t.screen.clientHeight - 12; // the tile's padding
      const rowH = full / t.term.rows;
      const cursor = (t.term.buffer.active.cursorY + 1) * rowH;
      const off = Math.max(0, Math.min(full - view, cursor + rowH - view));
      t.term.element.style.transform = off > 0 ? `translateY(${-Math.round(off)}px)` : '';
    });
  }

  function tile(s) {
    const el = document.createElement('a');
    el.className = 'tile';
    el.href = `/#/s/${encodeURIComponent(s.id)}/watch`;
    el.target = '_blank';
    el.rel = 'noopener';
    el.title = `Watch ${s.owner}'s terminal (ask for control from there)`;
    el.dataset.session = s.id;
    el.dataset.owner = s.owner;
    const head = Alia.el('div', 'tile-head');
    const top = Alia.el('div', 'tile-top');
    const who = span('tile-who', s.owner);
    const tags = span('tile-tags', '');
    top.append(who, tags);
    const badge = span('tile-badges', '');
    head.append(top, badge);
    const screen = Alia.el('div', 'tile-screen');
    el.append(head, screen);
    // Grows from the side that keeps it on screen.
    const grow = () => {
      const r = el.getBoundingClientRect();
      const w = wall.getBoundingClientRect();
      const x = r.left - w.left < 20 ? 'left' : w.right - r.right < 20 ? 'right' : 'center';
      const y = r.bottom + r.height * 0.35 > window.innerHeight ? 'bottom' : 'top';
      el.style.transformOrigin = `${y} ${x}`;
    };
    el.addEventListener('mouseenter', grow);
    el.addEventListener('focus', grow);
    wall.append(el);
    const term = new Terminal({
      cols: s.cols || 80, rows: s.rows || 24, fontSize: FONT_PX, lineHeight: 1.1,
      fontFamily: 'ui-monospace, "SFMono-Regular", "SF Mono", Menlo, Consolas, ' +
        '"DejaVu Sans Mono", "Liberation Mono", monospace',
      disableStdin: true, cursorBlink: false, scrollback: 0,
      theme: { background: '#0b0e14', foreground: '#d5dae4', cursor: '#7ee0a1' },
    });
    term.open(screen);
    const t = { el, term, screen, tags, badge, last: time(s.last_activity_at) || Date.now(), session: s, raf: 0 };
    return t;
  }

  // The needs-help order: failed checks on the step, time on the step,
  // idle time; each the most first.
  function arrange() {
    if (wall.querySelector('.tile:hover, .tile:focus')) return;
    const key = (t) => {
      const l = lessonOf(t.session);
      return [l && !l.done ? l.fails : 0, l ? l.stuckMs : 0, Date.now() - t.last];
    };
    const sorted = [...tiles.values()].map((t) => [t, key(t)]).sort((a, b) => {
      for (let i = 0; i < 3; i++) if (a[1][i] !== b[1][i]) return b[1][i] - a[1][i];
      return String(a[0].session.owner).localeCompare(String(b[0].session.owner));
    });
    sorted.forEach(([t], i) => { t.el.style.order = String(i); });
  }

  function connect() {
    if (ws) { ws.onclose = null; ws.close(); }
    if (order.length === 0) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/ws/wall?ids=${order.join(',')}`);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => status('ok', `live: ${order.length} session${order.length === 1 ? '' : 's'}`);
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') return; // hello
      const b = new Uint8Array(ev.data);
      const t = tiles.get(order[b[0]]);
      if (!t) return;
      if (b[1] === 1) t.term.reset(); // a snapshot: not new activity
      else t.last = Date.now();
      t.term.write(b.subarray(2), () => follow(t));
      badges(t);
    };
    ws.onclose = () => { status('wait', 'reconnecting…'); setTimeout(connect, 2000); };
  }

  async function poll() {
    const r = await getSignedIn('/api/sessions');
    if (!r || !Array.isArray(r.data)) return;
    const list = r.data.filter((s) => s.state === 'running' && s.owner !== me.user);
    const ids = list.map((s) => s.id).slice(0, 32);
    const changed = ids.join() !== order.join();
    for (const s of list) {
      const t = tiles.get(s.id);
      if (!t) continue;
      t.session = s;
      if (s.cols > 0 && s.rows > 0 && (s.cols !== t.term.cols || s.rows !== t.term.rows)) {
        t.term.resize(s.cols, s.rows);
        follow(t);
      }
      const out = time(s.last_activity_at);
      if (out > t.last) t.last = out;
    }
    if (changed) {
      for (const [id, t] of tiles) if (!ids.includes(id)) { t.term.dispose(); t.el.remove(); tiles.delete(id); }
      for (const s of list) if (!tiles.has(s.id) && ids.includes(s.id)) tiles.set(s.id, tile(s));
      order = ids;
      $('notice').hidden = order.length > 0;
      if (order.length === 0) {
        notice('No live sessions', 'When your learners open terminals, they appear here.');
        status('ok', 'nothing to show');
      }
      connect();
    }
    for (const t of tiles.values()) badges(t);
    arrange();
  }

  (async () => {
    const r = await getSignedIn('/api/me');
    if (!r) return;
    me = r.data || {};
    if (me.role !== 'instructor' && me.role !== 'admin') {
      notice('The wall is for instructors', 'Sign in as an instructor or an admin to watch your groups.');
      status('error', 'not allowed');
      return;
    }
    await poll();
    setInterval(poll, POLL_MS);
  })();
})();
