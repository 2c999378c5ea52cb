// SPDX-License-Identifier: ISC
// Lesson progress, served for /progress/NAME: for an instructor (or an
// admin), every session of lesson NAME they may see (GET /api/sessions,
// whose rows say lesson, step, step_since, failed_checks and last_check),
// one row each: who, step N/M and its title, the time on that step, the
// failed checks, the last check. Running sessions still on a step come
// first, the longest stuck at the top; then those done, then ended ones.
// Above the list, how many are on each step. Refreshed every 3 s. The
// API, status line and helpers are common.js's (global Alia).
'use strict';

(() => {
  const POLL_MS = 3000;
  const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

  const $ = (id) => document.getElementById(id);
  const { api, getSignedIn, status, el } = Alia;
  const ui = {
    title: $('title'),
    summary: $('summary'),
    tryLink: $('try'),
    loading: $('loading'),
    notice: $('notice'),
    noticeTitle: $('notice-title'),
    noticeText: $('notice-text'),
    funnel: $('funnel'),
    list: $('list'),
    rows: $('rows'),
    foot: $('foot'),
  };

  const name = Alia.pathName('progress', NAME_RE);

  let lesson = null;
  const rows = new Map(); // session id -> {el, cells}
  let lastOrder = '';
  let clockSkew = 0; // server time minus ours, from the Date header

  function notice(title, text) {
    ui.loading.hidden = true;
    ui.list.hidden = true;
    ui.funnel.hidden = true;
    Alia.notice(title, text);
  }

  const now = () => Date.now() + clockSkew;

  function since(iso) {
    const t = Date.parse(iso || '');
    return Number.isFinite(t) ? Math.max(0, (now() - t) / 1000) : NaN;
  }

  const fmtDuration = Alia.duration;

  const steps = () => lesson.steps.length;
  const isDone = (s) => s.step > steps();
  const live = (s) => s.state !== 'ended';

  // Running and on a step (longest there first), done, ended.
  function rank(a, b) {
    const group = (s) => (!live(s) ? 2 : isDone(s) ? 1 : 0);
    const g = group(a) - group(b);
    if (g !== 0) return g;
    const stuck = (since(b.step_since) || 0) - (since(a.step_since) || 0);
    if (stuck !== 0) return stuck;
    return String(a.owner).localeCompare(String(b.owner));
  }

  function makeRow(s) {
    const r = el('div', 'row');
    r.dataset.session = s.id;
    const c = {
      who: el('span', 'c-who'),
      step: el('span', 'c-num c-step'),
      title: el('span', 'c-muted'),
      time: el('span', 'c-num'),
      fails: el('span', 'c-num c-fails'),
      last: el('span', 'c-muted'),
      act: el('span', 'c-act'),
    };
    r.append(c.who, c.step, c.title, c.time, c.fails, c.last, c.act);
    return { el: r, cells: c };
  }

  function fill(row, s) {
    const c = row.cells;
    const n = steps();
    const done = isDone(s);
    row.el.dataset.owner = s.owner;
    row.el.dataset.state = !live(s) ? 'ended' : done ? 'done' : s.failed_checks > 0 ? 'failing' : 'working';
    c.who.textContent = s.owner;
    c.step.textContent = done ? `done ${n}/${n}` : `step ${s.step}/${n}`;
    const st = lesson.steps[s.step - 1];
    c.title.textContent = done ? 'all steps passed' : st ? st.title : '—';
    c.title.title = c.title.textContent;
    c.time.textContent = done || !live(s) ? '—' : fmtDuration(since(s.step_since));
    c.fails.textContent = String(s.failed_checks || 0);
    c.fails.classList.toggle('bad', s.failed_checks > 0);
    const lc = s.last_check;
    c.last.textContent = lc && lc.step
      ? `step ${lc.step} ${lc.passed ? 'passed' : 'failed'}, ${fmtDuration(since(lc.at))} ago`
      : 'none yet';
    c.last.classList.toggle('bad', !!(lc && !lc.passed));
    const watchHref = `/#/s/${encodeURIComponent(s.id)}/watch`;
    const want = live(s) ? 'Watch' : 'Replay';
    const a = c.act.firstChild;
    if (!a || a.textContent !== want) {
      const link = el('a', 'btn btn-sm btn-ghost', want);
      link.href = live(s) ? watchHref : `/play/${encodeURIComponent(s.id)}`;
      if (live(s)) { link.target = '_blank'; link.rel = 'noopener'; }
      link.setAttribute('aria-label', `${want} ${s.owner}'s terminal`);
      c.act.replaceChildren(link);
    }
  }

  function showFunnel(list) {
    const n = steps();
    const counts = new Array(n + 2).fill(0);
    for (const s of list) if (live(s)) counts[Math.min(n + 1, Math.max(1, s.step || 1))]++;
    ui.funnel.replaceChildren();
    for (let i = 1; i <= n + 1; i++) {
      const li = el('li', i > n ? 'funnel-step funnel-done' : 'funnel-step');
      li.append(el('span', 'funnel-n', String(counts[i])),
        el('span', 'funnel-label', i > n ? 'done' : `${i}. ${lesson.steps[i - 1].title}`));
      li.classList.toggle('empty', counts[i] === 0);
      li.title = i > n ? `${counts[i]} passed every step` : `${counts[i]} on step ${i}: ${lesson.steps[i - 1].title}`;
      ui.funnel.append(li);
    }
    ui.funnel.hidden = false;
  }

  async function poll() {
    const res = await getSignedIn('/api/sessions');
    if (!res) return;
    if (!res.ok) { status('error', `sessions: HTTP ${res.status}`); return; }
    const date = Date.parse(res.headers.get('Date') || '');
    if (Number.isFinite(date)) clockSkew = date - Date.now();
    if (!Array.isArray(res.data)) { status('error', 'sessions: not JSON'); return; }
    const list = res.data.filter((s) => s && s.lesson === name);
    list.sort(rank);
    ui.loading.hidden = true;
    const ids = new Set(list.map((s) => s.id));
    for (const [id, r] of rows) if (!ids.has(id)) { r.el.remove(); rows.delete(id); }
    for (const s of list) {
      if (!rows.has(s.id)) rows.set(s.id, makeRow(s));
      fill(rows.get(s.id), s);
    }
    const order = list.map((s) => s.id).join();
    if (order !== lastOrder) {
      lastOrder = order;
      ui.rows.replaceChildren(...list.map((s) => rows.get(s.id).el));
    }
    const running = list.filter(live);
    const done = running.filter(isDone).length;
    const failing = running.filter((s) => !isDone(s) && s.failed_checks > 0).length;
    ui.summary.textContent = running.length === 0
      ? 'Nobody is on this lesson right now.'
      : `${running.length} learner${running.length === 1 ? '' : 's'} on it, ${done} done` +
        (failing ? `, ${failing} with failed checks on their step` : '') + '. The longest stuck first.';
    ui.list.hidden = list.length === 0;
    ui.notice.hidden = list.length > 0;
    if (list.length === 0) {
      ui.noticeTitle.textContent = 'No sessions of this lesson yet';
      ui.noticeText.textContent = `When learners open /learn/${name}, they appear here.`;
    }
    showFunnel(list);
    ui.foot.hidden = list.length === 0;
    ui.foot.textContent = `Refreshed every ${POLL_MS / 1000} s · ${new Date().toLocaleTimeString()}`;
    status('ok', 'live');
  }

  (async () => {
    if (!name) {
      notice('No such lesson', 'A progress address looks like /progress/first-steps.');
      status('error', 'no lesson');
      return;
    }
    const me = await api('GET', '/api/me').catch(() => null);
    if (!me) { notice('The server does not answer', 'Try again in a moment.'); return; }
    if (me.status === 401) { location.href = '/'; return; }
    const who = me.data || {};
    if (who.auth === 'password' && who.role !== 'instructor' && who.role !== 'admin') {
      notice('Progress is for instructors', 'Sign in as an instructor or an admin to follow a lesson.');
      status('error', 'not allowed');
      return;
    }
    const r = await api('GET', `/api/lessons/${encodeURIComponent(name)}`).catch(() => null);
    if (!r || !r.ok || !r.data) {
      notice('No such lesson', r && r.status === 404 ? `There is no lesson called "${name}".`
        : `Could not load the lesson (${r ? `HTTP ${r.status}` : 'no answer'}).`);
      status('error', 'no lesson');
      return;
    }
    lesson = r.data;
    if (!Array.isArray(lesson.steps)) lesson.steps = [];
    document.title = `alia · progress · ${lesson.title || name}`;
    ui.title.textContent = lesson.title || name;
    ui.tryLink.href = `/learn/${encodeURIComponent(name)}`;
    await poll();
    setInterval(poll, POLL_MS);
  })();
})();
