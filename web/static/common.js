// SPDX-License-Identifier: ISC
// What every alia page shares, loaded as a classic script before the
// page's own: the HTTP API in JSON, the bar's status line, the notice box,
// elements, durations, and the name a page's address ends in. Defines the
// global Alia; terminal.js adds the terminal to it.
'use strict';

window.Alia = (() => {
  const $ = (id) => document.getElementById(id);

  // fetch with JSON in and out: {status, ok, data, retryAfter, headers};
  // throws only when the server cannot be reached.
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
    return {
      status: res.status, ok: res.ok, data,
      retryAfter: Number(res.headers.get('Retry-After')) || 0, headers: res.headers,
    };
  }

  function errorText(r) {
    const d = r.data || {};
    return d.error || d.message || `HTTP ${r.status}`;
  }

  // GET path for a page that needs a sign-in: api's answer, or null once
  // the status line says the server does not answer, or once the page
  // leaves for the start page (401).
  async function getSignedIn(path) {
    let r;
    try {
      r = await api('GET', path);
    } catch {
      status('error', 'the server does not answer');
      return null;
    }
    if (r.status === 401) {
      location.href = '/';
      return null;
    }
    return r;
  }

  // The bar's status line (#status, #status-text).
  // kind: starting | ok | wait | done | error
  function status(kind, text) {
    $('status').dataset.kind = kind;
    $('status-text').textContent = text;
  }

  // Shows the page's notice box (#notice) with title and text; the page
  // hides what it replaces.
  function notice(title, text) {
    $('notice').hidden = false;
    $('notice-title').textContent = title;
    $('notice-text').textContent = text;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // s seconds as "42 s", "3 min 05 s", "2 h 07 min"; '—' when unknown.
  function duration(s) {
    if (!Number.isFinite(s) || s < 0) return '—';
    s = Math.round(s);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
    if (m > 0) return `${m} min ${String(sec).padStart(2, '0')} s`;
    return `${sec} s`;
  }

  // The NAME of the page's address /PREFIX/NAME when re matches it, else null.
  function pathName(prefix, re) {
    let s = location.pathname.replace(new RegExp(`^/${prefix}/?`), '').replace(/\/+$/, '');
    try { s = decodeURIComponent(s); } catch { return null; }
    return re.test(s) ? s : null;
  }

  return { api, errorText, getSignedIn, status, notice, el, duration, pathName };
})();
