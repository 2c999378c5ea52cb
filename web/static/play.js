// SPDX-License-Identifier: ISC
// alia replay page, served for /play/ID: fetches the session's recording
// (asciicast v2) itself, shows the session's facts from the cast header and
// GET /api/sessions/ID, and plays it in asciinema-player (the UMD bundle,
// global AsciinemaPlayer, loaded before this file, as is common.js). The cast's 'm' events
// (control hand-offs, joins, leaves) become the player's markers and a list
// below it that seeks. Speed and idle-skipping are creation options of the
// player, so changing them makes a new player at the same position.
'use strict';

(() => {
  const IDLE_LIMIT_S = 2;
  const MAX_CAST_BYTES = 64 << 20;

  const $ = (id) => document.getElementById(id);
  const ui = {
    sid: $('sid'),
    facts: $('facts'),
    id: $('f-id'),
    started: $('f-started'),
    duration: $('f-duration'),
    exit: $('f-exit'),
    reason: $('f-reason'),
    live: $('f-live'),
    liveLink: $('live-link'),
    notice: $('notice'),
    loading: $('loading'),
    replay: $('replay'),
    host: $('player'),
    speed: $('speed'),
    idle: $('idle'),
    download: $('download'),
    markersBox: $('markers-box'),
    markers: $('markers'),
  };

  const id = Alia.pathName('play', /^[A-Za-z0-9-]{1,64}$/);

  let cast = null; // {header, text, events: [[t, code]...], markers: [[t, label]...], length}
  let player = null;
  let playing = false;
  let shownLimit = Infinity; // the idle limit of the player's timeline
  let markerItems = [];
  let blocked = false; // the CSP stopped the player

  // --- formatting ---------------------------------------------------------

  // Tenths of a second under 10 s: a short recording's length.
  const fmtDuration = (s) => (s >= 0 && s < 10 ? `${s.toFixed(1)} s` : Alia.duration(s));

  function fmtClock(s) {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, '0');
    return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
  }

  function fmtDate(d) {
    if (!(d instanceof Date) || Number.isNaN(d.getTime())) return '—';
    return d.toLocaleString(undefined, {
      year: d.getFullYear() === new Date().getFullYear() ? undefined : 'numeric',
      month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  }

  // --- states ---------------------------------------------------------------

  function showNotice(title, text) {
    if (blocked) return;
    ui.loading.hidden = true;
    ui.replay.hidden = true;
    Alia.notice(title, text);
    document.title = `alia · ${title.toLowerCase()}`;
  }

  function addDownload() {
    const a = Alia.el('a', 'btn btn-sm btn-ghost', 'Download .cast');
    a.href = `/api/sessions/${encodeURIComponent(id)}/recording`;
    a.download = `alia-${id}.cast`;
    ui.notice.querySelector('.notice-actions').prepend(a);
  }

  // --- the cast -------------------------------------------------------------

  // Parses asciicast v2; keeps the well-formed event lines only (the player
  // rejects a whole recording for one bad line).
  function parseCast(text) {
    const lines = text.split('\n');
    let header;
    try { header = JSON.parse(lines[0]); } catch { header = null; }
    if (!header || typeof header !== 'object' || header.version !== 2) return null;
    const keep = [lines[0]];
    const events = [];
    const markers = [];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      if (!line.trim()) continue;
      let ev;
      try { ev = JSON.parse(line); } catch { continue; }
      if (!Array.isArray(ev) || ev.length < 3 || !Number.isFinite(ev[0]) ||
          typeof ev[1] !== 'string' || typeof ev[2] !== 'string') continue;
      keep.push(line);
      events.push([ev[0], ev[1]]);
      if (ev[1] === 'm') markers.push([ev[0], ev[2]]);
    }
    const length = events.reduce((a, e) => Math.max(a, e[0]), 0);
    return { header, text: `${keep.join('\n')}\n`, events, markers, length };
  }

  // The player shortens pauses over idleTimeLimit in the events it plays,
  // but not in markers handed to it: shift them the same way.
  function limitedMarkers(limit) {
    if (!Number.isFinite(limit)) return cast.markers.map((m) => [m[0], m[1]]);
    let prev = 0;
    let shift = 0;
    const out = [];
    for (const [t, code] of cast.events) {
      const delta = t - prev - limit;
      prev = t;
      if (delta > 0) shift += delta;
      if (code === 'm') out.push(t - shift);
    }
    return out.map((t, i) => [t, cast.markers[i][1] || `marker ${i + 1}`]);
  }

  // The recording's own time of a position x on the player's shortened
  // timeline (startAt is given in the recording's time).
  function originalTime(x, limit) {
    if (!Number.isFinite(limit)) return x;
    let prev = 0;
    let prevShown = 0;
    let shift = 0;
    for (const [t] of cast.events) {
      const delta = t - prev - limit;
      if (delta > 0) shift += delta;
      const shown = t - shift;
      if (shown >= x) return Math.min(t, prev + (x - prevShown));
      prev = t;
      prevShown = shown;
    }
    return prev;
  }

  function idleLimit() {
    if (ui.idle.checked) return IDLE_LIMIT_S;
    const h = cast.header.idle_time_limit;
    return Number.isFinite(h) && h > 0 ? h : Infinity;
  }

  // --- the player -----------------------------------------------------------

  function makePlayer(startAt, autoPlay) {
    if (player) {
      try { player.dispose(); } catch { /* gone */ }
      player = null;
    }
    ui.host.replaceChildren();
    const limit = idleLimit();
    const markers = limitedMarkers(limit);
    shownLimit = limit;
    const p = AsciinemaPlayer.create({ data: cast.text }, ui.host, {
      cols: cast.header.width,
      rows: cast.header.height,
      speed: Number(ui.speed.value) || 1,
      idleTimeLimit: ui.idle.checked ? IDLE_LIMIT_S : undefined,
      startAt: startAt > 0 ? startAt : undefined,
      autoPlay,
      preload: true,
      markers,
      fit: 'width',
      theme: 'alia',
      terminalFontFamily: 'ui-monospace, "SFMono-Regular", "SF Mono", Menlo, Consolas, ' +
        '"DejaVu Sans Mono", "Liberation Mono", monospace',
      terminalLineHeight: 1.2,
    });
    player = p;
    window.player = p; // for tests and the curious
    playing = false;
    p.addEventListener('play', () => { if (p === player) playing = true; });
    p.addEventListener('playing', () => { if (p === player) playing = true; });
    p.addEventListener('pause', () => { if (p === player) playing = false; });
    p.addEventListener('ended', () => { if (p === player) playing = false; });
    p.addEventListener('marker', ({ index }) => highlightMarker(index));
    p.addEventListener('error', (e) => {
      if (p !== player) return;
      showNotice('Cannot play this recording',
        `The player stopped: ${(e && e.message) || 'unknown error'}.`);
    });
    renderMarkers(markers);
  }

  function renderMarkers(markers) {
    ui.markers.replaceChildren();
    markerItems = markers.map(([t, label], i) => {
      const li = Alia.el('li');
      const b = Alia.el('button', 'marker');
      b.type = 'button';
      b.append(Alia.el('span', 'marker-t', fmtClock(t)), Alia.el('span', 'marker-label', label));
      b.title = `Jump to ${fmtClock(t)}`;
      b.addEventListener('click', () => {
        if (!player) return;
        player.seek({ marker: i }).then(() => highlightMarker(i), () => {});
      });
      li.append(b);
      ui.markers.append(li);
      return b;
    });
    ui.markersBox.hidden = markers.length === 0;
  }

  function highlightMarker(i) {
    markerItems.forEach((b, j) => b.classList.toggle('current', j === i));
  }

  function restart() {
    let at = 0;
    const was = playing;
    if (player) {
      try { at = originalTime(player.getCurrentTime() || 0, shownLimit); } catch { at = 0; }
    }
    makePlayer(at, was);
  }

  // --- facts ----------------------------------------------------------------

  function showFacts(info) {
    const h = cast ? cast.header : {};
    ui.facts.hidden = false;
    ui.id.textContent = id;
    ui.id.title = id;

    let started = null;
    // created_at, as in the session list: the recording's clock starts there.
    if (info && (info.created_at || info.started_at)) started = new Date(info.created_at || info.started_at);
    else if (Number.isFinite(h.timestamp)) started = new Date(h.timestamp * 1000);
    ui.started.textContent = fmtDate(started);

    let dur = NaN;
    if (info && info.ended_at && started) dur = (new Date(info.ended_at) - started) / 1000;
    if (!Number.isFinite(dur) && cast) dur = cast.length;
    const running = info && info.state && info.state !== 'ended';
    ui.duration.textContent = running ? `${fmtDuration(dur)} so far` : fmtDuration(dur);

    const code = info ? info.exit_code : h.exit_code;
    ui.exit.textContent = code === undefined || code === null ? '—' : String(code);
    ui.exit.classList.toggle('bad', Number.isFinite(code) && code !== 0);

    const reason = (info && info.end_reason) || (running ? 'still running' : null);
    ui.reason.textContent = reason || '—';

    ui.live.hidden = !running;
    ui.liveLink.href = `/#/s/${encodeURIComponent(id)}`;
  }

  // --- loading --------------------------------------------------------------

  async function fetchInfo() {
    try {
      const r = await Alia.api('GET', `/api/sessions/${encodeURIComponent(id)}`);
      return r.ok ? r.data : null;
    } catch {
      return null;
    }
  }

  async function load() {
    if (!id) {
      showNotice('No such session', 'This address does not name a session. Pick one from your sessions.');
      return;
    }
    ui.sid.textContent = id.slice(0, 8);
    ui.sid.title = `session ${id}`;
    document.title = `alia · replay ${id.slice(0, 8)}`;
    const url = `/api/sessions/${encodeURIComponent(id)}/recording`;
    ui.download.href = url;
    ui.download.setAttribute('download', `alia-${id}.cast`);

    const infoP = fetchInfo();
    let res;
    try {
      res = await fetch(url, { credentials: 'same-origin' });
    } catch (e) {
      showNotice('Server unreachable', `The recording could not be fetched: ${e.message}.`);
      return;
    }
    if (res.status === 403) {
      showNotice('Not your session', 'This recording belongs to someone else, so it cannot be replayed here.');
      return;
    }
    if (res.status === 404) {
      showNotice('Session not found', `There is no session ${id}, or it left no recording.`);
      return;
    }
    if (res.status === 401) {
      showNotice('Signed out', 'Sign in again, then reload this page.');
      return;
    }
    if (!res.ok) {
      showNotice('Recording unavailable', `The server answered ${res.status} ${res.statusText}.`);
      return;
    }
    const text = await res.text();
    if (text.length > MAX_CAST_BYTES) {
      showNotice('Recording too large', 'Download the .cast file and play it with asciinema.');
      addDownload();
      return;
    }
    cast = parseCast(text);
    const info = await infoP;
    if (!cast) {
      showFacts(info);
      showNotice('Unreadable recording', 'The server sent something that is not an asciicast v2 recording.');
      return;
    }
    showFacts(info);
    if (cast.events.length === 0) {
      showNotice('Nothing recorded yet', 'This session has not printed anything yet. Reload in a moment.');
      return;
    }
    if (typeof AsciinemaPlayer === 'undefined') {
      showNotice('Player missing', 'asciinema-player did not load; the server\'s web directory lacks it.');
      return;
    }
    if (blocked) return;
    ui.loading.hidden = true;
    ui.replay.hidden = false;
    try {
      makePlayer(0, false);
    } catch (e) {
      showNotice('Cannot play this recording', `The player refused it: ${e.message}.`);
    }
  }

  // The player's terminal emulator is WebAssembly: a Content-Security-Policy
  // without 'wasm-unsafe-eval' in script-src stops it with nothing on screen.
  document.addEventListener('securitypolicyviolation', (e) => {
    if (blocked || e.blockedURI !== 'wasm-eval') return;
    showNotice('The player cannot run here',
      'The server\'s Content-Security-Policy forbids WebAssembly, which the player needs ' +
      '(script-src lacks \'wasm-unsafe-eval\'). Download the .cast file to play it with asciinema.');
    if (id) addDownload();
    blocked = true;
  });

  ui.speed.addEventListener('change', restart);
  ui.idle.addEventListener('change', restart);
  load();
})();
