// SPDX-License-Identifier: ISC
// alia session list, served for /sessions: the caller's sessions from
// GET /api/recordings (newest first), and a search box that asks
// GET /api/recordings?q=TEXT for the sessions whose recording matches,
// each with a snippet. The query lives in the URL (?q=), so a reload or a
// shared link shows the same search. Each row links to its replay,
// /play/ID, and a running session also to its live terminal, /#/s/ID.
// Helpers are common.js's (global Alia).
'use strict';

(() => {
  const DEBOUNCE_MS = 250;
  const { el } = Alia;

  const $ = (id) => document.getElementById(id);
  const ui = {
    form: $('search'),
    q: $('q'),
    loading: $('loading'),
    notice: $('notice'),
    noticeActions: $('notice-actions'),
    list: $('list'),
    rows: $('rows'),
    foot: $('foot'),
  };

  let seq = 0; // the newest request; older answers are dropped
  let ctrl = null;
  let timer = 0;

  // --- formatting -----------------------------------------------------------

  function fmtDate(s) {
    const d = new Date(s);
    if (!s || Number.isNaN(d.getTime())) return '—';
    const today = new Date();
    const sameDay = d.toDateString() === today.toDateString();
    const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
    if (sameDay) return `today ${time}`;
    const date = d.toLocaleDateString(undefined, {
      month: 'short', day: 'numeric',
      year: d.getFullYear() === today.getFullYear() ? undefined : 'numeric',
    });
    return `${date}, ${time}`;
  }

  const fmtDuration = Alia.duration;

  function fmtBytes(n) {
    if (!Number.isFinite(n) || n < 0) return '—';
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
    return `${(n / 1048576).toFixed(1)} MB`;
  }

  function link(href, cls, text) {
    const a = el('a', cls, text);
    a.href = href;
    return a;
  }

  // Text with every occurrence of q (any case) in <mark>.
  function highlighted(text, q) {
    const frag = document.createDocumentFragment();
    const needle = q.trim().toLowerCase();
    if (!needle) {
      frag.append(text);
      return frag;
    }
    const hay = text.toLowerCase();
    let at = 0;
    for (;;) {
      const i = hay.indexOf(needle, at);
      if (i < 0) break;
      frag.append(text.slice(at, i), el('mark', '', text.slice(i, i + needle.length)));
      at = i + needle.length;
    }
    frag.append(text.slice(at));
    return frag;
  }

  // --- states ---------------------------------------------------------------

  function showNotice(title, text, actions = [], error = false) {
    ui.loading.hidden = true;
    ui.list.hidden = true;
    ui.foot.hidden = true;
    ui.notice.classList.toggle('error', error);
    Alia.notice(title, text);
    ui.noticeActions.replaceChildren(...actions);
    ui.noticeActions.hidden = actions.length === 0;
  }

  function row(s, q) {
    const r = el('div', 'row');
    r.dataset.id = s.id;
    const live = s.state && s.state !== 'ended';
    const play = `/play/${encodeURIComponent(s.id)}`;

    const id = el('span', 'c-id');
    const a = link(play, '', s.id.slice(0, 8));
    a.title = `Replay session ${s.id}`;
    id.append(a);

    const state = el('span', 'c-state');
    state.append(el('span', `pill ${live ? 'pill-live' : 'pill-ended'}`, live ? (s.state === 'running' ? 'live' : s.state) : 'ended'));

    const started = el('span', 'c-muted c-hide', fmtDate(s.created_at));
    started.title = s.created_at || '';

    let dur = NaN;
    if (s.created_at) {
      const end = s.ended_at ? new Date(s.ended_at) : (live ? new Date() : null);
      if (end) dur = (end - new Date(s.created_at)) / 1000;
    }
    const duration = el('span', 'c-num c-hide', fmtDuration(dur));
    if (live) duration.title = 'so far';

    const code = s.exit_code;
    const exit = el('span', 'c-num c-hide', code === null || code === undefined ? '—' : String(code));
    if (Number.isFinite(code) && code !== 0) exit.classList.add('bad');

    const reason = el('span', 'c-muted c-hide', s.end_reason || (live ? '' : '—'));
    const size = el('span', 'c-num c-muted c-hide', fmtBytes(s.bytes));

    const act = el('span', 'c-act');
    act.append(link(play, 'btn btn-sm btn-ghost', 'Replay'));
    if (live) act.append(link(`/#/s/${encodeURIComponent(s.id)}`, 'btn btn-sm', 'Open'));

    r.append(id, state, started, duration, exit, reason, size, act);
    if (typeof s.snippet === 'string' && s.snippet) {
      const sn = el('div', 'snippet');
      sn.append(highlighted(s.snippet, q));
      r.append(sn);
    }
    return r;
  }

  function render(list, q) {
    ui.loading.hidden = true;
    if (list.length === 0) {
      if (q) {
        const clear = el('button', 'btn btn-sm btn-ghost', 'Clear search');
        clear.type = 'button';
        clear.addEventListener('click', () => { ui.q.value = ''; search(true); ui.q.focus(); });
        showNotice('No matches', `No session printed or typed “${q}”.`, [clear]);
      } else {
        showNotice('No sessions yet', 'Terminals you open are recorded and listed here.',
          [link('/', 'btn btn-sm', 'Open a terminal')]);
      }
      return;
    }
    ui.notice.hidden = true;
    ui.rows.replaceChildren(...list.map((s) => row(s, q)));
    ui.list.hidden = false;
    const n = list.length;
    ui.foot.textContent = q
      ? `${n} ${n === 1 ? 'session matches' : 'sessions match'} “${q}”`
      : `${n} ${n === 1 ? 'session' : 'sessions'}`;
    ui.foot.hidden = false;
  }

  // --- loading --------------------------------------------------------------

  async function load(q) {
    const me = ++seq;
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const url = q ? `/api/recordings?q=${encodeURIComponent(q)}` : '/api/recordings';
    let res;
    let data;
    try {
      res = await fetch(url, { credentials: 'same-origin', signal: ctrl.signal });
      data = res.ok ? await res.json() : null;
    } catch (e) {
      if (me !== seq || e.name === 'AbortError') return;
      if (res && res.ok) {
        showNotice('Unreadable answer', 'The server sent a session list that is not JSON.', [], true);
        return;
      }
      const retry = el('button', 'btn btn-sm', 'Try again');
      retry.type = 'button';
      retry.addEventListener('click', () => search(true));
      showNotice('Server unreachable', `The session list could not be fetched: ${e.message}.`, [retry], true);
      return;
    }
    if (me !== seq) return;
    if (res.status === 401 || res.status === 403) {
      showNotice('Signed out', 'Sign in again, then reload this page.', [link('/', 'btn btn-sm', 'Start page')], true);
      return;
    }
    if (!res.ok) {
      const retry = el('button', 'btn btn-sm', 'Try again');
      retry.type = 'button';
      retry.addEventListener('click', () => search(true));
      showNotice('Sessions unavailable',
        `The server answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''} for ${url}.`, [retry], true);
      return;
    }
    if (!Array.isArray(data)) {
      showNotice('Unreadable answer', 'The server sent something other than a list of sessions.', [], true);
      return;
    }
    render(data.filter((s) => s && typeof s.id === 'string'), q);
  }

  function search(now) {
    clearTimeout(timer);
    const q = ui.q.value.trim();
    const go = () => {
      const want = q ? `/sessions?q=${encodeURIComponent(q)}` : '/sessions';
      if (location.pathname + location.search !== want) history.replaceState(null, '', want);
      document.title = q ? `alia · sessions matching “${q}”` : 'alia · your sessions';
      load(q);
    };
    if (now) go();
    else timer = setTimeout(go, DEBOUNCE_MS);
  }

  ui.q.value = new URLSearchParams(location.search).get('q') || '';
  ui.form.addEventListener('submit', (e) => { e.preventDefault(); search(true); });
  ui.q.addEventListener('input', () => search(false));
  ui.q.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && ui.q.value) { ui.q.value = ''; search(true); }
  });
  search(true);
})();
