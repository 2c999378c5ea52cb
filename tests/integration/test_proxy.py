#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""alia behind HAProxy: run under with-server.sh with ALIA_AUTH=password
and ALIA_TRUSTED_PROXIES=127.0.0.1. The test starts Debian's haproxy
twice with contrib/haproxy.cfg (the file the README shows; the test
checks that it does), its bind and server lines pointed at this run:

- trusted: listening on 127.0.0.2, connecting to alia from 127.0.0.1;
- untrusted: listening on 127.0.0.2 too, connecting from 127.0.0.5.

The browser connects from 127.0.0.3 (or .4). Checked:
- through the trusted proxy a sign-in's audit row and log line name
  127.0.0.3, even when the browser sends an X-Forwarded-For of its own;
  through the untrusted one the row names the proxy (127.0.0.5), and a
  direct request from 127.0.0.4 with a forged X-Forwarded-For names
  127.0.0.4;
- the Origin check takes the scheme from a trusted peer's
  X-Forwarded-Proto, and from no one else's;
- through the proxy: a terminal websocket (control) runs a command, a
  watcher of the same session and an instructor's wall see its output;
- the sign-in limiter counts the forwarded address: 6 wrong passwords
  for one name from 127.0.0.3 get 429 for that (name, address), while
  the same name from 127.0.0.4 is still checked (401).
"""
import json
import os
import re
import signal
import socket
import subprocess
import time

import aliatest
from aliatest import WS, Agent, cli, login, ok, psql, run

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
CFG = os.path.join(TOP, "contrib", "haproxy.cfg")
LOG = os.environ["ALIA_SERVER_LOG"]
ALIA_HOST, ALIA_PORT = aliatest.HOST, aliatest.PORT
PW = {"ann": "ann-Proxy-5c2e9", "ivy": "ivy-Proxy-8d41a",
      "lim": "lim-Proxy-3f7b0"}
BROWSER, OTHER = "127.0.0.3", "127.0.0.4"
procs = []
ports = {}


def free_port(host):
    s = socket.socket()
    s.bind((host, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def haproxy(name, source=None):
    """Starts haproxy with contrib/haproxy.cfg on 127.0.0.2:PORT, its
    server line at alia (from source, if given); waits until it
    listens."""
    with open(CFG) as f:
        text = f.read()
    port = free_port("127.0.0.2")
    server = f"\tserver alia {ALIA_HOST}:{ALIA_PORT}"
    if source:
        server += f" source {source}"
    text, n1 = re.subn(r"(?m)^\tbind :80$", f"\tbind 127.0.0.2:{port}", text)
    text, n2 = re.subn(r"(?m)^\tserver alia 127\.0\.0\.1:8080$", server,
                       text)
    if n1 != 1 or n2 != 1:
        raise RuntimeError("contrib/haproxy.cfg: no 'bind :80' or "
                           "'server alia 127.0.0.1:8080' line to point "
                           "at this run")
    path = os.path.join(os.environ["ALIA_DATA_DIR"], f"haproxy-{name}.cfg")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.Popen(["haproxy", "-db", "-f", path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs.append(p)
    end = time.time() + 10
    while time.time() < end:
        if p.poll() is not None:
            raise RuntimeError(f"haproxy exited: {p.stderr.read()!r}")
        try:
            socket.create_connection(("127.0.0.2", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    ports[name] = port
    return port


def via(name):
    """Points aliatest's clients at the named proxy, or at alia itself."""
    if name == "alia":
        aliatest.HOST, aliatest.PORT = ALIA_HOST, ALIA_PORT
    else:
        aliatest.HOST, aliatest.PORT = "127.0.0.2", ports[name]


def last_login(user, since, action="login"):
    """The address in the newest audit row of user's sign-in (or action)
    after audit id since; waits for it (rows are written
    asynchronously)."""
    end = time.time() + 10
    while time.time() < end:
        r = psql("select detail from alia.audit where actor = "
                 f"'{user}' and action = '{action}' and id > {since} "
                 "order by id desc limit 1")
        if r:
            return r
        time.sleep(0.1)
    return None


def audit_id():
    return int(psql("select coalesce(max(id), 0) from alia.audit"))


def setup():
    if subprocess.run(["sh", "-c", "command -v haproxy"],
                      stdout=subprocess.DEVNULL).returncode != 0:
        raise RuntimeError("haproxy is not installed: run script/bootstrap")
    cli("group", "add", "px")
    cli("user", "add", "ann", "--role", "learner", "--group", "px",
        stdin=PW["ann"] + "\n")
    cli("user", "add", "ivy", "--role", "instructor", "--group", "px",
        stdin=PW["ivy"] + "\n")
    cli("user", "add", "lim", "--role", "learner", stdin=PW["lim"] + "\n")
    haproxy("trusted")
    haproxy("untrusted", source="127.0.0.5")


def readme_shows_config():
    """The README's HAProxy configuration is contrib/haproxy.cfg."""
    with open(CFG) as f:
        cfg = f.read()
    with open(os.path.join(TOP, "README.md")) as f:
        readme = f.read()
    ok(cfg.strip() in readme,
       "the README shows contrib/haproxy.cfg as it is")


def audit_address():
    via("trusted")
    since = audit_id()
    a, st, _ = login("ann", PW["ann"], source=BROWSER)
    ok(st == 200, f"ann signs in through the trusted proxy: {st}")
    got = last_login("ann", since)
    ok(got == BROWSER,
       f"the audit row names the browser {BROWSER}, not the proxy: {got}")
    with open(LOG, errors="replace") as f:
        ok(f"ann signed in from {BROWSER}" in f.read(),
           "so does the log line")

    # The browser's own X-Forwarded-For is left of the proxy's entry.
    since = audit_id()
    a = Agent(BROWSER)
    st, _ = a.request("POST", "/api/login",
                      json.dumps({"username": "ann", "password": PW["ann"]}),
                      {"X-Forwarded-For": "10.9.9.9"})
    got = last_login("ann", since)
    ok(st == 200 and got == BROWSER,
       f"a forged X-Forwarded-For through the proxy: {st}, audit {got}")

    via("untrusted")
    since = audit_id()
    a, st, _ = login("ann", PW["ann"], source=BROWSER)
    got = last_login("ann", since)
    ok(st == 200 and got == "127.0.0.5",
       f"through a proxy not in trusted_proxies the row names the proxy "
       f"127.0.0.5: {st}, audit {got}")

    via("alia")
    since = audit_id()
    a = Agent(OTHER)
    st, _ = a.request("POST", "/api/login",
                      json.dumps({"username": "ann", "password": PW["ann"]}),
                      {"X-Forwarded-For": BROWSER,
                       "X-Forwarded-Proto": "http"})
    got = last_login("ann", since)
    ok(st == 200 and got == OTHER,
       f"a direct request from {OTHER} with a forged X-Forwarded-For "
       f"{BROWSER}: {st}, audit {got}")


def origin_scheme():
    """Our origin's scheme is the forwarded one, from a trusted peer."""
    body = json.dumps({"username": "ann", "password": PW["ann"]})
    via("alia")
    host = f"{ALIA_HOST}:{ALIA_PORT}"
    for src, proto, origin, want in [
            ("127.0.0.1", "https", f"https://{host}", 200),
            ("127.0.0.1", "https", f"http://{host}", 403),
            (OTHER, "https", f"https://{host}", 403),
            (OTHER, "https", f"http://{host}", 200)]:
        a = Agent(src)
        st, _ = a.request("POST", "/api/login", body,
                          {"X-Forwarded-Proto": proto, "Origin": origin})
        ok(st == want, f"from {src} with X-Forwarded-Proto {proto}, "
           f"Origin {origin}: {st} (want {want})")
        if st == 200:
            secure = re.search(r"(?im)^set-cookie:.*;\s*secure", a.head)
            ok(bool(secure) == (proto == "https" and src == "127.0.0.1"),
               "the cookie is Secure exactly when the browser used https")
    via("trusted")
    host = f"127.0.0.2:{ports['trusted']}"
    for origin, want in [(f"http://{host}", 200), (f"https://{host}", 403)]:
        a, st, _ = login("ann", PW["ann"], origin=origin, source=BROWSER)
        ok(st == want, f"through the proxy (http), Origin {origin}: {st}")


def hello(ws):
    end = time.time() + 30
    while time.time() < end:
        m = ws.recv(end - time.time())
        if m and m[0] == 1 and json.loads(m[1]).get("type") == "hello":
            return True
    return False


def terminal():
    via("trusted")
    ann, st, _ = login("ann", PW["ann"], source=BROWSER)
    ivy, st2, _ = login("ivy", PW["ivy"], source=OTHER)
    ok(st == 200 and st2 == 200, f"ann and ivy sign in: {st} {st2}")
    origin = f"http://127.0.0.2:{ports['trusted']}"
    sid = ann.create()
    ctl = WS(ann, sid, "control", origin=origin)
    ok(hello(ctl), "the control websocket opens through the proxy")
    ok(ctl.read_until(rb"\$ ", 30) is not None, "with a prompt")
    watch = WS(ann, sid, "watch", origin=origin)
    ok(hello(watch), "a watch websocket of the session opens too")
    wall = WS(ivy, None, origin=origin, path=f"/ws/wall?ids={sid}")
    ok(wall.status == 101, "ivy's wall opens through the proxy")
    ctl.type("echo proxied-$((6*7))\n")
    ok(ctl.read_until(rb"proxied-42", 20) is not None,
       "the command's output comes back to the controller")
    ok(watch.read_until(rb"proxied-42", 20) is not None,
       "and to the watcher")
    out, end = b"", time.time() + 20
    while time.time() < end and b"proxied-42" not in out:
        m = wall.recv(end - time.time())
        if m is None and wall.closed:
            break
        if m and m[0] == 2 and len(m[1]) >= 2:
            out += m[1][2:]  # [tile][snapshot or more][bytes]
    ok(b"proxied-42" in out, "and to the instructor's wall")
    for w in (ctl, watch, wall):
        w.close()
    st, _ = ann.request("DELETE", f"/api/sessions/{sid}")
    ok(st == 204, f"the session ends: {st}")


def limiter():
    """Six wrong passwords for lim from 127.0.0.3 through the proxy; then
    the same name from 127.0.0.4 is still checked."""
    via("trusted")
    sts = []
    for _ in range(6):
        a, st, body = login("lim", "wrong-password", source=BROWSER)
        sts.append(st)
    ok(sts == [401] * 5 + [429], f"from {BROWSER}: {sts}")
    why = json.loads(body).get("error", "")
    ok("for this name" not in why and "your address" not in why,
       f"the 429 is for the (name, address): {why!r}")
    # The name alone waits 1 s after its fifth failure.
    time.sleep(1.5)
    since = audit_id()
    a, st, body = login("lim", "wrong-password", source=OTHER)
    ok(st == 401, f"lim from {OTHER} is still checked: {st} {body!r}")
    got = last_login("lim", since, "login refused")
    ok(got == OTHER, f"its refusal's audit row names {OTHER}: {got!r}")
    time.sleep(2.5)
    a, st, body = login("lim", PW["lim"], source=BROWSER)
    ok(st == 429 and "for this name" not in body.decode(),
       f"from {BROWSER}, even the right password waits: {st} {body!r}")


def stop():
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


run(setup, readme_shows_config, audit_address, origin_scheme, terminal,
    limiter, stop)
