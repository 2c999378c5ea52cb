// SPDX-License-Identifier: ISC
// The instructor wall: a live thumbnail of every running session the
// signed-in instructor (or admin) may see, over one websocket
// (/ws/wall?ids=...). Each binary frame is [tile number][1: snapshot,
// clear first | 0: more output][bytes]. Badges come from /api/sessions,
// polled: who, idle for how long, how many watch. A click opens the
// session to watch, where "Ask for control" is.
'use strict';

(() => {
  const POLL_MS = 5000;
  const IDLE_S = 60;
  const $ = (id) => document.getElementById(id);
  const wall = $('wall');
  const tiles = new Map(); // id -> {el, term, badge, last, session}
  let order = []; // ids, in tile order
  let ws = null;
  let me = null;
  window.wallTerms = tiles; // for tests: each tile's xterm

  function status(kind, text) {
    $('status').dataset.kind = kind;
    $('status-text').textContent = text;
  }

  function notice(title, text) {
    $('notice').hidden = false;
    $('notice-title').textContent = title;
    $('notice-text').textContent = text;
  }

  function ago(ms) {
    const s = Math.round(ms / 1000);
    return s < 60 ? `${s} s` : `${Math.round(s / 60)} min`;
  }

  function badges(t) {
    const idle = (Date.now() - t.last) / 1000;
    const watchers = Math.max(0, (t.session.viewers || 0));
    t.badge.replaceChildren();
    const add = (cls, text) => {
      const b = document.createElement('span');
      b.className = `badge ${cls}`;
      b.textContent = text;
      t.badge.append(b);
    };
    add(idle > IDLE_S ? 'badge-idle' : 'badge-live', idle > IDLE_S ? `idle ${ago(idle * 1000)}` : 'active');
    add('badge-last', `last output ${ago(Date.now() - t.last)} ago`);
    if (watchers > 0) add('badge-watched', watchers === 1 ? '1 connected' : `${watchers} connected`);
  }

  function tile(s) {
    const el = document.createElement('a');
    el.className = 'tile';
    el.href = `/#/s/${encodeURIComponent(s.id)}/watch`;
    el.target = '_blank';
    el.rel = 'noopener';
    el.title = `Watch ${s.owner}'s terminal (ask for control from there)`;
    const head = document.createElement('div');
    head.className = 'tile-head';
    const who = document.createElement('span');
    who.className = 'tile-who';
    who.textContent = s.owner;
    const badge = document.createElement('span');
    badge.className = 'tile-badges';
    head.append(who, badge);
    const screen = document.createElement('div');
    screen.className = 'tile-screen';
    el.append(head, screen);
    wall.append(el);
    const term = new Terminal({
      cols: s.cols || 80, rows: s.rows || 24, fontSize: 6, lineHeight: 1,
      disableStdin: true, cursorBlink: false, scrollback: 0,
      theme: { background: '#0b0e14' },
    });
    term.open(screen);
    return { el, term, badge, last: Date.now(), session: s };
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
      t.term.write(b.subarray(2));
      badges(t);
    };
    ws.onclose = () => { status('wait', 'reconnecting…'); setTimeout(connect, 2000); };
  }

  async function poll() {
    let r;
    try {
      r = await fetch('/api/sessions', { credentials: 'same-origin' });
    } catch {
      status('error', 'the server does not answer');
      return;
    }
    if (r.status === 401) { location.href = '/'; return; }
    const list = (await r.json()).filter((s) => s.state === 'running' && s.owner !== me.user);
    const ids = list.map((s) => s.id).slice(0, 32);
    const changed = ids.join() !== order.join();
    for (const s of list) if (tiles.has(s.id)) tiles.get(s.id).session = s;
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
  }

  (async () => {
    const r = await fetch('/api/me', { credentials: 'same-origin' });
    if (r.status === 401) { location.href = '/'; return; }
    me = await r.json();
    if (me.role !== 'instructor' && me.role !== 'admin') {
      notice('The wall is for instructors', 'Sign in as an instructor or an admin to watch your groups.');
      status('error', 'not allowed');
      return;
    }
    await poll();
    setInterval(poll, POLL_MS);
  })();
})();
