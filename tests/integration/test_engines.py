#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Many Docker engines (issue 12): run by test_engines.sh under
engines.py (engines p on TCP, t on TLS, b with no image, h a listener
that never answers) and with-server.sh, with `docker = NAME=URL,...` in
ALIA_DOCKER, docker_tls_dir holding t's client certificates, pool = 0
(so that only sessions are placed). The argument says what must hold:

spread (local, p, t): 9 sessions, at most 4 on an engine; each
  session's engine in the API (one and the list) is alia.sessions.engine,
  and its container (labels io.alia.session, io.alia.engine) is on that
  engine and no other; every shell answers, the TLS engine's too;
  /metrics, alia.engines and `alia engine list` agree on the engines.
  Then drain: `alia engine drain p` keeps new sessions off p within a
  second while p is up and its sessions go on; unknown names exit 1;
  undrain gives p sessions again; a drain survives a restart of alia
  (SIGUSR2, the upgrade in place: its state is in PostgreSQL).
image (local, b): b answers but lacks the image: alia copies it there
  ("copying image" in the log), b becomes up and runs a session; no
  session goes to b before.
latency base|hung (local, p, t, and h for hung; t's capacity 2, every
  other engine's 5): creation latency of 8 sessions; with h configured
  its median is less than 100 ms above the base run's (written to
  $ALIA_TEST_ENGINES_TMP), h is never up and ends down, and h was
  connected to; the capacities are in /metrics and the list and t holds
  at most 2 sessions.
loss (local, p, t): p's dockerd killed (SIGKILL, through engines.py's
  control socket) under two sessions that printed a marker: within 15 s
  they end with 'engine lost' (row and websocket exit frame), the marker
  is in the recording, alia_engine_up{engine="p"} is 0, sessions
  elsewhere go on and new ones avoid p. p's dockerd started again:
  within 20 s p is up, no container of the old sessions is left on it,
  and it gets a new session that works."""
import collections
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

import aliatest
import engines
from aliatest import WS, Agent, ok, psql

ALIA = os.environ["ALIA_BIN"]
IMAGE = os.environ.get("ALIA_IMAGE", "alia-sandbox:latest")
HEADER = "NAME URL STATE DRAINED SESSIONS CAPACITY PING CREATE".split()
TMP = os.environ.get("ALIA_TEST_ENGINES_TMP", "/tmp")
# The configured engines, name -> URL, as the server reads them.
CONF = dict(item.split("=", 1)
            for item in os.environ["ALIA_DOCKER"].split(","))
TLS_DIR = os.environ.get("ALIA_DOCKER_TLS_DIR", "")
state = {}  # what one part leaves to the next


def q(sql):
    """psql, or None while the database does not answer (a restart)."""
    try:
        return psql(sql)
    except (RuntimeError, subprocess.TimeoutExpired):
        return None


def until(fn, limit, step=0.2):
    """Calls fn until it returns something true or limit seconds pass;
    its last answer."""
    end = time.time() + limit
    while True:
        got = fn()
        if got or time.time() >= end:
            return got
        time.sleep(step)


def docker_env(name):
    """The environment the docker CLI needs for engine name: its URL as
    configured, and its client certificates when docker_tls_dir has
    them."""
    e = dict(os.environ)
    for k in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        e.pop(k, None)
    e["DOCKER_HOST"] = CONF[name]
    certs = os.path.join(TLS_DIR, name) if TLS_DIR else ""
    if certs and os.path.exists(os.path.join(certs, "ca.pem")):
        e.update(DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=certs)
    return e


def docker(name, *args):
    return subprocess.run(["docker", *args], env=docker_env(name),
                          capture_output=True, text=True, timeout=60)


def containers(name, sid):
    """[(container name, its io.alia.engine label)] of session sid on
    engine name; None when the engine did not answer."""
    r = docker(name, "ps", "-a", "--filter", f"label=io.alia.session={sid}",
               "--format", '{{.Names}}\t{{.Label "io.alia.engine"}}')
    if r.returncode != 0:
        return None
    return [tuple((l.split("\t") + [""])[:2]) for l in r.stdout.splitlines()]


def engine_rows():
    """alia.engines: name -> {state, drained, sessions, capacity}."""
    out = q("select name, state, drained, sessions, capacity "
            "from alia.engines order by name")
    rows = {}
    for line in (out or "").splitlines():
        f = line.split("|")
        rows[f[0]] = dict(state=f[1], drained=f[2], sessions=f[3],
                          capacity=f[4])
    return rows


def engine_state(name):
    return engine_rows().get(name, {}).get("state")


def wait_states(want, limit):
    """Waits until alia.engines has each name of want in its state;
    whether it came to that, and the states last seen."""
    last = {}

    def there():
        rows = engine_rows()
        last.update({n: rows.get(n, {}).get("state") for n in want})
        return last == want
    return bool(until(there, limit, 0.3)), last


def metrics():
    """/metrics' alia_engine_* samples: (metric, engine) -> value."""
    try:
        st, body = Agent().request("GET", "/metrics")
    except OSError:
        return {}
    if st != 200:
        return {}
    out = {}
    for line in body.decode(errors="replace").splitlines():
        m = re.match(r"^(alia_engine_\w+)\{([^}]*)\}\s+(\S+)", line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            if "engine" in labels:
                try:
                    out[(m.group(1), labels["engine"])] = float(m.group(3))
                except ValueError:
                    pass
    return out


def metric_until(metric, name, want, limit):
    """Waits until /metrics says metric{engine=name} == want; the value
    last seen."""
    got = None

    def look():
        nonlocal got
        got = metrics().get((metric, name))
        return got == want
    until(look, limit, 0.25)
    return got


def alia(*args):
    """Runs `alia ARGS` on the server's data (ALIA_DATA_DIR and the
    configuration from the environment): (exit status, stdout, stderr)."""
    r = subprocess.run([ALIA, *args], capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout, r.stderr


def engine_list():
    """`alia engine list`: (status, header fields, name -> fields, the
    output)."""
    rc, out, err = alia("engine", "list")
    lines = out.splitlines()
    header = lines[0].split() if lines else []
    rows = {f[0]: f for f in (l.split() for l in lines[1:]) if f}
    return rc, header, rows, (out + err).strip()


def listed(name, col):
    """Column col (a HEADER name) of name's line in `alia engine list`."""
    rc, header, rows, _ = engine_list()
    if rc != 0 or header != HEADER or name not in rows:
        return None
    f = rows[name]
    i = HEADER.index(col)
    return f[i] if i < len(f) else None


def api_session(agent, sid):
    st, body = agent.request("GET", f"/api/sessions/{sid}")
    return json.loads(body) if st == 200 else {"status": st}


def new_session(agent):
    """Creates a session: (id, its engine per the API, seconds the POST
    took until 201)."""
    t0 = time.time()
    st, body = agent.request("POST", "/api/sessions")
    took = time.time() - t0
    if st != 201:
        raise RuntimeError(f"POST /api/sessions: {st} {body[:300]!r}")
    sid = json.loads(body)["id"]
    return sid, api_session(agent, sid).get("engine"), took


def sessions_until(agent, name, most):
    """Creates sessions until one is on engine name, at most most of
    them: (that one's id or None, [(id, engine)] made)."""
    made = []
    for _ in range(most):
        sid, eng, _ = new_session(agent)
        made.append((sid, eng))
        if eng == name:
            return sid, made
    return None, made


tags = itertools.count(1)


def answers(agent, sid, ws=None):
    """Whether session sid's shell runs an echo (on ws if given, kept
    open, else on a websocket of its own)."""
    tag = f"ans{next(tags)}x{os.getpid()}"
    own = ws is None
    try:
        if own:
            ws = WS(agent, sid, "control")
            if ws.read_until(rb"\$ ", 20) is None:
                return False
        ws.type(f"echo {tag}-$((6*7))\r")
        return ws.read_until(f"{tag}-42".encode(), 10) is not None
    except (OSError, RuntimeError):
        return False
    finally:
        if own and ws is not None:
            ws.close()


def server_log():
    with open(os.environ["ALIA_SERVER_LOG"], errors="replace") as f:
        return f.read()


def check_engines_agree(names, counts):
    """/metrics and alia.engines say each engine of names is up, not
    drained, with counts[name] sessions and no capacity."""
    for n in names:
        want = float(counts.get(n, 0))
        got = metric_until("alia_engine_sessions", n, want, 5)
        m = metrics()
        ok(m.get(("alia_engine_up", n)) == 1
           and m.get(("alia_engine_drained", n)) == 0 and got == want
           and m.get(("alia_engine_capacity", n)) == 0
           and ("alia_engine_ping_seconds", n) in m
           and ("alia_engine_create_seconds", n) in m,
           f"/metrics for {n}: up 1, drained 0, sessions "
           f"{got} (want {int(want)}), capacity 0, ping and create times: "
           f"{ {k[0]: v for k, v in m.items() if k[1] == n} }")
        row = {}

        def counted():
            row.update(engine_rows().get(n, {}))
            return row.get("sessions") == str(int(want))
        ok(until(counted, 5) and row["state"] == "up"
           and row["drained"] == "f",
           f"alia.engines for {n}: up, not drained, {int(want)} sessions "
           f"({row})")


# --- spread ---------------------------------------------------------------

def spread():
    names = ["local", "p", "t"]
    came, seen = wait_states({n: "up" for n in names}, 40)
    ok(came, f"local, p and t are up in alia.engines: {seen}")
    rc, header, rows, out = engine_list()
    ok(rc == 0 and header == HEADER,
       f"`alia engine list` exits 0 with its header: {out[:200]!r}")
    for n in names:
        f = rows.get(n, [])
        ok(len(f) >= len(HEADER) and f[1] == CONF[n] and f[2] == "up"
           and f[3] == "no",
           f"`alia engine list`: {n} {CONF[n]} up, not drained: {f}")

    a = Agent()
    state["agent"] = a
    sessions = {}
    for _ in range(9):
        sid, eng, _ = new_session(a)
        sessions[sid] = eng
    state["sessions"] = sessions
    counts = collections.Counter(sessions.values())
    ok(set(counts) <= set(names) and max(counts.values()) <= 4,
       f"9 sessions spread with at most 4 on an engine: {dict(counts)}")

    ids = ",".join(f"'{s}'" for s in sessions)
    db = dict(l.split("|") for l in
              psql(f"select id, engine from alia.sessions where id in "
                   f"({ids})").splitlines())
    bad = {s: (e, db.get(s)) for s, e in sessions.items() if db.get(s) != e}
    ok(not bad, f"each session's engine in the API is alia.sessions.engine "
       f"(differing: {bad})")
    st, body = a.request("GET", "/api/sessions")
    listed_engines = {s["id"]: s.get("engine")
                      for s in (json.loads(body) if st == 200 else [])}
    bad = {s: listed_engines.get(s) for s, e in sessions.items()
           if listed_engines.get(s) != e}
    ok(st == 200 and not bad, f"GET /api/sessions gives each one's engine "
       f"too ({st}; differing: {bad})")

    wrong = []
    for sid, eng in sessions.items():
        for n in names:
            got = containers(n, sid)
            want = [(f"alia-{sid}", n)] if n == eng else []
            if got != want:
                wrong.append(f"{sid} on {n}: {got}, want {want}")
    ok(not wrong, "each session's container (io.alia.session) is on its "
       "engine, labelled io.alia.engine with its name, and on no other "
       "engine" + (f": {wrong[:4]}" if wrong else ""))

    for sid, eng in sessions.items():
        ok(answers(a, sid), f"the shell of {sid} on {eng}"
           f"{' (TLS)' if eng == 't' else ''} answers")
    check_engines_agree(names, counts)


def drain():
    a, sessions = state["agent"], state["sessions"]
    on_p = [s for s, e in sessions.items() if e == "p"]
    rc, out, err = alia("engine", "drain", "p")
    ok(rc == 0, f"`alia engine drain p` exits 0 ({rc}: {err.strip()})")
    time.sleep(1)
    ok(listed("p", "DRAINED") == "yes",
       f"`alia engine list` says p is drained: {engine_list()[3]!r}")
    ok(engine_rows().get("p", {}).get("drained") == "t",
       "alia.engines.drained is true for p")
    ok(metrics().get(("alia_engine_drained", "p")) == 1,
       "alia_engine_drained{engine=\"p\"} is 1")
    made = [new_session(a)[:2] for _ in range(6)]
    ok(all(e in ("local", "t") for _, e in made),
       f"6 sessions made a second after the drain: none on p "
       f"({collections.Counter(e for _, e in made)})")
    ok(metrics().get(("alia_engine_up", "p")) == 1
       and engine_state("p") == "up", "p is up all the while")
    if on_p:
        ok(answers(a, on_p[0]), "a session on p made before the drain "
           "still answers")
    else:
        ok(False, "no session was on p to answer after the drain")
    for cmd in ("drain", "undrain"):
        rc, out, err = alia("engine", cmd, "nosuch")
        ok(rc == 1 and "no such engine" in err,
           f"`alia engine {cmd} nosuch` exits 1 with \"no such engine\" "
           f"({rc}: {err.strip()!r})")

    rc, out, err = alia("engine", "undrain", "p")
    ok(rc == 0, f"`alia engine undrain p` exits 0 ({rc}: {err.strip()})")
    time.sleep(1)
    ok(listed("p", "DRAINED") == "no", "`alia engine list` says p is not "
       "drained")
    sid, made = sessions_until(a, "p", 3)
    ok(sid is not None, f"after undrain p gets a session again ({made})")

    # A drain survives a restart (SIGUSR2: alia stops and executes itself
    # again, its state read back from PostgreSQL).
    rc, out, err = alia("engine", "drain", "p")
    ok(rc == 0, f"p drained again ({rc}: {err.strip()})")
    time.sleep(1)
    # An engine taken out of `docker` (here: "gone", which no start
    # configured) is forgotten at the next start, and the sessions placed
    # there end: nothing of this alia holds them any more.
    gone = "00000000-0000-4000-8000-0000000e0001"
    psql(f"insert into alia.sessions (id, owner, image, state, created_at, "
      f"engine) values ('{gone}', 'nobody', 'x', 'running', now(), 'gone')")
    psql("insert into alia.engines (name, url) values "
      "('gone', 'tcp://192.0.2.1:2375')")
    ws = WS(a, next(iter(sessions)), "control")
    ws.read_until(rb"\$ ", 10)
    os.kill(aliatest.SERVER, signal.SIGUSR2)
    code = ws.close_code(15)
    ws.close()
    ok(code == 1012, f"SIGUSR2: alia restarts (the browser gets close "
       f"{code})")
    ok(aliatest.healthy(aliatest.URL, 90), "alia serves again")
    came, seen = wait_states({"local": "up", "p": "up", "t": "up"}, 40)
    ok(came, f"after the restart local, p and t are up: {seen}")
    ok(listed("p", "DRAINED") == "yes",
       f"after the restart `alia engine list` still says p is drained: "
       f"{engine_list()[3]!r}")
    row = q(f"select state || '/' || end_reason from alia.sessions "
            f"where id = '{gone}'")
    ok(row == "ended/engine removed", f"a session of an engine no longer "
       f"configured ended at the start: {row}")
    ok(q("select count(*) from alia.engines where name = 'gone'") == "0",
       "and that engine is no longer in alia.engines")
    got = metric_until("alia_engine_drained", "p", 1, 5)
    ok(got == 1, f"and alia_engine_drained{{engine=\"p\"}} is 1 ({got})")
    made = [new_session(a)[:2] for _ in range(3)]
    ok(all(e in ("local", "t") for _, e in made),
       f"sessions made after the restart avoid p ({made})")
    alia("engine", "undrain", "p")


# --- image ----------------------------------------------------------------

def image_copy():
    a = Agent()
    t0 = time.time()
    came, seen = wait_states({"local": "up"}, 30)
    ok(came, f"local is up: {seen}")
    before = engine_state("b")
    sid0, eng0, _ = new_session(a)
    after = engine_state("b")
    if after != "up":
        ok(eng0 == "local", f"a session made while b is {before}/{after} "
           f"goes to local ({eng0})")
    else:
        print(f"# b was up already when the first session was made "
              f"({before}/{after}); its placement is not checked")
    seen = []

    def b_up():
        s = engine_state("b")
        if not seen or seen[-1] != s:
            seen.append(s)
        return s == "up"
    up = until(b_up, 120, 0.2)
    ok(up, f"b becomes up {time.time() - t0:.1f} s after the start "
       f"(states seen: {seen})")
    lines = [l for l in server_log().splitlines() if "copying image" in l]
    ok(bool(lines), "the log says it is copying the image: "
       + (lines[0].strip()[:200] if lines else "no line"))
    r = docker("b", "image", "inspect", "--format", "{{.Id}}", IMAGE)
    ok(r.returncode == 0, f"b has {IMAGE} now ({r.stdout.strip()[:30]}"
       f"{r.stderr.strip()[:200]})")
    got = metric_until("alia_engine_up", "b", 1, 5)
    ok(got == 1, f"alia_engine_up{{engine=\"b\"}} is 1 ({got})")
    ok(listed("b", "STATE") == "up", "`alia engine list` says b is up")
    sid, made = sessions_until(a, "b", 2)
    ok(sid is not None, f"a session lands on b ({made})")
    if sid is None:
        return
    ok(containers("b", sid) == [(f"alia-{sid}", "b")],
       f"its container is on b, labelled io.alia.engine=b "
       f"({containers('b', sid)})")
    ok(answers(a, sid), "the shell on b answers")


# --- latency --------------------------------------------------------------

class Sampler:
    """alia.engines' states, looked at every 0.5 s on a thread (in both
    latency runs alike, so that its cost is in both)."""

    def __init__(self):
        self.seen = collections.defaultdict(list)
        self.stop = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        while not self.stop.is_set():
            for n, r in engine_rows().items():
                if not self.seen[n] or self.seen[n][-1] != r["state"]:
                    self.seen[n].append(r["state"])
            self.stop.wait(0.5)

    def end(self):
        self.stop.set()
        self.th.join()
        return self.seen


def latency():
    which = sys.argv[2]
    hung = which == "hung"
    t_start = time.time()
    sampler = Sampler()
    names = ["local", "p", "t"]
    came, seen = wait_states({n: "up" for n in names}, 40)
    ok(came, f"local, p and t are up: {seen}")
    if hung:
        ok("h" in CONF, "h is configured")
        conns = until(lambda: int(re.search(
            r"conns=(\d+)", engines.control("info h")).group(1)), 10)
        ok(conns > 0, f"alia connected to h before the sessions are made "
           f"({conns} connection(s))")
    a = Agent()
    times, placed = [], []
    for _ in range(8):
        sid, eng, took = new_session(a)
        times.append(took)
        placed.append(eng)
    med = statistics.median(times)
    each = " ".join(f"{t * 1000:.0f}" for t in times)
    print(f"# {which}: creation took {each} ms; median {med * 1000:.0f} ms; "
          f"placed {dict(collections.Counter(placed))}")
    path = os.path.join(TMP, "latency-base.json")
    if not hung:
        with open(path, "w") as f:
            json.dump(times, f)
    else:
        try:
            with open(path) as f:
                base = statistics.median(json.load(f))
        except (OSError, ValueError):
            base = None
        ok(base is not None and med - base < 0.1,
           f"with the hung engine h configured, session creation's median "
           f"is less than 100 ms above the run without it: {med * 1000:.0f}"
           f" ms vs {base * 1000 if base else float('nan'):.0f} ms")
        ok("h" not in placed, f"no session was placed on h ({placed})")

    # The capacities, from docker_capacity_t and engine_max_sessions.
    m = metrics()
    caps = {n: m.get(("alia_engine_capacity", n)) for n in names}
    ok(caps == {"local": 5, "p": 5, "t": 2},
       f"alia_engine_capacity: t 2 (its own), local and p 5 "
       f"(engine_max_sessions): {caps}")
    ok(listed("t", "CAPACITY") == "2" and listed("p", "CAPACITY") == "5",
       "`alia engine list` shows the capacities")
    ok(collections.Counter(placed)["t"] <= 2,
       f"t holds at most its capacity of 2 sessions ({placed})")

    if hung:
        down = until(lambda: engine_state("h") == "down",
                     max(1, t_start + 25 - time.time()), 0.3)
        seen = sampler.end()
        ok(down, f"h is down within 25 s of the start (states: {seen['h']})")
        ok(seen["h"] and "up" not in seen["h"],
           f"h was never up in alia.engines (states seen: {seen['h']})")
        ok(metrics().get(("alia_engine_up", "h")) == 0,
           "alia_engine_up{engine=\"h\"} is 0")
        st = listed("h", "STATE")
        ok(st in ("down", "unknown"), f"`alia engine list` says h is {st}")
    else:
        sampler.end()


# --- loss -----------------------------------------------------------------

def exit_frame(ws, deadline):
    """Reads ws until its {"type":"exit",...} text frame: (that frame as
    a dict or None, whether the connection then closed)."""
    while time.time() < deadline:
        m = ws.recv(max(0.05, deadline - time.time()))
        if m is None:
            if ws.closed:
                return None, True
            continue
        op, data = m
        if op == 8:
            return None, True
        if op != 1:
            continue
        try:
            j = json.loads(data)
        except ValueError:
            continue
        if isinstance(j, dict) and j.get("type") == "exit":
            end = time.time() + 5
            while time.time() < end:
                m = ws.recv(end - time.time())
                if ws.closed or (m is not None and m[0] == 8):
                    return j, True
            return j, False
    return None, False


def loss():
    names = ["local", "p", "t"]
    came, seen = wait_states({n: "up" for n in names}, 40)
    ok(came, f"local, p and t are up: {seen}")
    a = Agent()
    made = [new_session(a)[:2] for _ in range(6)]
    while sum(e == "p" for _, e in made) < 2 and len(made) < 12:
        made.append(new_session(a)[:2])
    on_p = [s for s, e in made if e == "p"][:2]
    other = [(s, e) for s, e in made if e != "p"]
    ok(len(on_p) == 2, f"two sessions on p ({made})")
    if not on_p or not other:
        return
    marks, socks = {}, {}
    for i, sid in enumerate(on_p):
        ws = WS(a, sid, "control")
        ws.read_until(rb"\$ ", 20)
        ws.type(f"echo lost-{i}-$((6*7))-mark\r")
        ok(ws.read_until(f"lost-{i}-42-mark".encode(), 10) is not None,
           f"session {sid} on p printed its marker")
        marks[sid], socks[sid] = f"lost-{i}-42-mark", ws
    keep_sid, keep_eng = other[0]
    keep = WS(a, keep_sid, "control")
    keep.read_until(rb"\$ ", 20)

    engines.control("stop p KILL")
    t0 = time.time()
    print("# p's dockerd killed (SIGKILL)")
    # Each browser's exit frame read on a thread of its own, while the
    # rows, the metric and alia.engines are asked here: each is timed
    # from the kill by itself.
    frames = {}

    def read_exit(sid, ws):
        j, closed = exit_frame(ws, t0 + 15)
        frames[sid] = (j, closed, time.time() - t0)
    readers = [threading.Thread(target=read_exit, args=(sid, ws))
               for sid, ws in socks.items()]
    for th in readers:
        th.start()
    ids = ",".join(f"'{s}'" for s in on_p)
    want_rows = ",".join(["ended/engine lost"] * len(on_p))
    seen = {}  # what -> (seconds after the kill it first held, or None)
    rows = metric = st = None
    while time.time() < t0 + 15 and len(seen) < 3:
        if "rows" not in seen:
            rows = q(f"select string_agg(state || '/' || "
                     f"coalesce(end_reason, '-'), ',') from alia.sessions "
                     f"where id in ({ids})")
            if rows == want_rows:
                seen["rows"] = time.time() - t0
        if "metric" not in seen:
            metric = metrics().get(("alia_engine_up", "p"))
            if metric == 0:
                seen["metric"] = time.time() - t0
        if "state" not in seen:
            st = engine_state("p")
            if st == "down":
                seen["state"] = time.time() - t0
        time.sleep(0.2)
    for th in readers:
        th.join()
    for sid in on_p:
        j, closed, took = frames[sid]
        ok(j is not None and j.get("code") == -1
           and j.get("reason") == "engine lost" and closed,
           f"the browser of {sid} got {{\"type\":\"exit\",\"code\":-1,"
           f"\"reason\":\"engine lost\"}} within 15 s, then the close: "
           f"{j} after {took:.1f} s, closed: {closed}")
        socks[sid].close()
    def when(what):
        return f"after {seen[what]:.1f} s" if what in seen else "not in 15 s"
    ok("rows" in seen, f"p's sessions ended with end_reason 'engine lost' "
       f"within 15 s ({rows}; {when('rows')})")
    ok("metric" in seen, f"alia_engine_up{{engine=\"p\"}} is 0 within 15 s "
       f"({metric}; {when('metric')})")
    ok("state" in seen, f"alia.engines says p is down within 15 s ({st}; "
       f"{when('state')})")
    ok(listed("p", "STATE") == "down", "`alia engine list` says p is down")
    for sid, mark in marks.items():
        got = aliatest.psql_until(
            f"select position('{mark}' in alia.transcript('{sid}')) > 0",
            "t", limit=10)
        ok(got == "t", f"the marker {sid} printed before is in its "
           f"recording")
    ok(answers(a, keep_sid, keep), f"a session on {keep_eng} goes on")
    keep.close()
    ok(api_session(a, keep_sid).get("state") == "running",
       "and is still running")
    made2 = [new_session(a)[:2] for _ in range(3)]
    ok(all(e in ("local", "t") for _, e in made2),
       f"new sessions go to the other engines ({made2})")

    engines.control("start p")
    t1 = time.time()
    print("# p's dockerd started again")
    got = metric_until("alia_engine_up", "p", 1, 20)
    ok(got == 1, f"within 20 s p is up again: alia_engine_up "
       f"{got} after {time.time() - t1:.1f} s")
    ok(engine_state("p") == "up", "alia.engines says p is up")
    left = until(lambda: (lambda c: c if all(x == [] for x in c.values())
                          else None)({s: containers("p", s) for s in on_p}),
                 10, 0.5)
    ok(bool(left), "no container of the lost sessions is left on p: "
       f"{ {s: containers('p', s) for s in on_p} }")
    sid, made3 = sessions_until(a, "p", 3)
    ok(sid is not None, f"p gets a new session again ({made3})")
    if sid:
        ok(answers(a, sid), "and its shell answers")


PARTS = {
    "spread": [spread, drain],
    "image": [image_copy],
    "latency": [latency],
    "loss": [loss],
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in PARTS:
        print(f"usage: test_engines.py {'|'.join(PARTS)} [base|hung]",
              file=sys.stderr)
        sys.exit(2)
    print(f"# {' '.join(sys.argv[1:])}: docker = {os.environ['ALIA_DOCKER']}")
    aliatest.run(*PARTS[sys.argv[1]])
