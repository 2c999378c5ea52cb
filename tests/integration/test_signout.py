#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Sign-out that means it, a sign-in limiter that cannot be raced or
turned against others, and log and audit lines that text from outside
cannot forge: run under with-server.sh with ALIA_AUTH=password.

- `alia user passwd` and `alia user disable`: the user's open websocket
  gets {"type":"error","message":"signed out"} and close 1008 within 2 s,
  their sign-in cookie and API token get 401 at once (no 30 s cache), and
  a disabled user's session ends with end_reason 'user disabled'.
- 40 wrong passwords in parallel for one name from one address: at most
  5 are checked; the right password from another address still signs in,
  after at most a short delay; the delays per name grow (1 s, 2 s, 4 s).
- A user name with a newline or ESC forges no line in the server log and
  leaves no control character in alia.audit.
"""
import json
import os
import re
import threading
import time

from aliatest import WS, Agent, cli, login, ok, psql, run

PW = {"sam": "sam-Signout-4e1a7", "dan": "dan-Disable-92c3f",
      "lim": "lim-Limit-0b7d2", "slow": "slow-Slow-6a3e1"}
SAM_NEW = "sam-Changed-c81f0"
LOG = os.environ["ALIA_SERVER_LOG"]


def setup():
    for name, pw in PW.items():
        cli("user", "add", name, "--role", "learner", stdin=pw + "\n")


def retry_after(agent):
    m = re.search(r"(?im)^retry-after:\s*(\d+)", agent.head)
    return int(m.group(1)) if m else None


def open_ws(agent):
    """A control websocket on a new session of agent's user: (sid, ws)."""
    sid = agent.create()
    ws = WS(agent, sid, "control")
    end = time.time() + 30
    while time.time() < end:
        m = ws.recv(end - time.time())
        if m and m[0] == 1 and json.loads(m[1]).get("type") == "hello":
            break
    return sid, ws


def sent_off(ws, t0, what):
    """Whether ws got the error "signed out" and close 1008 within 2 s of
    t0; says so."""
    error, code = None, None
    while time.time() < t0 + 2 and code is None:
        m = ws.recv(t0 + 2 - time.time())
        if m is None:
            if ws.closed:
                break
            continue
        if m[0] == 1:
            msg = json.loads(m[1])
            if msg.get("type") == "error":
                error = msg.get("message")
        elif m[0] == 8:
            code = int.from_bytes(m[1][:2], "big") if len(m[1]) >= 2 else 0
    took = time.time() - t0
    return ok(error == "signed out" and code == 1008,
              f"{what}: the websocket got error {error!r} and close "
              f"{code} after {took:.2f} s")


def bearer(token):
    st, _ = Agent().request("GET", "/api/me",
                            headers={"Authorization": f"Bearer {token}"})
    return st


def passwd():
    print("# alia user passwd signs the user out everywhere")
    a, st, _ = login("sam", PW["sam"])
    token = cli("user", "token", "sam").strip()
    ok(st == 200 and bearer(token) == 200 and
       a.request("GET", "/api/me")[0] == 200,
       "sam's cookie and API token work (and are cached)")
    sid, ws = open_ws(a)
    cli("user", "passwd", "sam", stdin=SAM_NEW + "\n")
    t0 = time.time()
    sent_off(ws, t0, "passwd")
    ws.close()
    st = a.request("GET", "/api/me")[0]
    ok(st == 401, f"the old sign-in cookie at once -> {st}")
    st = bearer(token)
    ok(st == 401, f"the API token at once -> {st}")
    ok(psql("SELECT count(*) FROM alia.tokens WHERE user_name = 'sam'")
       == "0", "no token of sam's is left in alia.tokens")
    b, st, _ = login("sam", SAM_NEW)
    ok(st == 200, f"the new password signs in -> {st}")
    st, body = b.request("GET", f"/api/sessions/{sid}")
    state = json.loads(body).get("state") if st == 200 else None
    ok(state == "running", f"the session goes on after passwd -> {state}")
    b.request("DELETE", f"/api/sessions/{sid}")


def disable():
    print("# alia user disable: signed out, sessions end")
    a, st, _ = login("dan", PW["dan"])
    token = cli("user", "token", "dan").strip()
    ok(st == 200 and bearer(token) == 200, "dan signed in, token cached")
    sid, ws = open_ws(a)
    cli("user", "disable", "dan")
    t0 = time.time()
    sent_off(ws, t0, "disable")
    ws.close()
    st = a.request("GET", "/api/me")[0]
    ok(st == 401, f"the sign-in cookie at once -> {st}")
    st = bearer(token)
    ok(st == 401, f"the API token at once -> {st}")
    reason = None
    end = time.time() + 15
    while time.time() < end:
        reason = psql("SELECT coalesce(end_reason, '') FROM alia.sessions "
                      f"WHERE id = '{sid}'")
        if reason:
            break
        time.sleep(0.2)
    ok(reason == "user disabled",
       f"the session ended with end_reason {reason!r}")
    _, st, _ = login("dan", PW["dan"])
    ok(st == 401, f"a disabled user cannot sign in -> {st}")
    cli("user", "enable", "dan")
    _, st, _ = login("dan", PW["dan"])
    ok(st == 200, f"enabled again, dan signs in -> {st}")


def checked(name, source):
    """How many password checks of name from source failed, by the log."""
    with open(LOG, errors="replace") as f:
        return f.read().count(f"sign-in of {name} from {source} refused")


def limiter():
    print("# 40 parallel wrong passwords; the right one from elsewhere")
    codes = []
    lock = threading.Lock()

    def one(i):
        _, st, _ = login("lim", f"wrong-{i}")
        with lock:
            codes.append(st)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    n401 = codes.count(401)
    ok(len(codes) == 40 and n401 <= 5 and
       codes.count(429) == 40 - n401,
       f"40 at once: {n401} checked (401), {codes.count(429)} refused "
       f"(429), others {sorted(set(codes) - {401, 429})}")
    time.sleep(0.5)
    n = checked("lim", "127.0.0.1")
    ok(n <= 5, f"the log shows {n} password checks (at most 5)")

    # The real user, from another address: a short wait at most.
    t0 = time.time()
    waits, st = [], None
    while time.time() < t0 + 40:
        a, st, _ = login("lim", PW["lim"], source="127.0.0.2")
        if st != 429:
            break
        waits.append(retry_after(a))
        if waits[-1] is None or waits[-1] > 30:
            break  # a lockout, not a delay
        time.sleep(waits[-1])
    ok(st == 200 and all(w is not None and w <= 30 for w in waits),
       f"the right password from 127.0.0.2 -> {st} after "
       f"{time.time() - t0:.1f} s (Retry-After {waits})")


def delays():
    print("# per name, from any address: delays that grow")
    for i in range(5):
        login("slow", f"wrong-{i}", source="127.0.0.3")
    seen = []
    for src in ("127.0.0.4", "127.0.0.5", "127.0.0.6"):
        a, st, _ = login("slow", "wrong-again", source=src)
        ra = retry_after(a) if st == 429 else None
        seen.append((st, ra))
        if ra is None or ra > 30:
            break
        time.sleep(ra)
        login("slow", "wrong-after-the-wait", source=src)
    ras = [ra for _, ra in seen]
    ok(len(ras) == 3 and None not in ras and ras[0] < ras[1] < ras[2] <= 30,
       f"each further attempt waits longer: {seen}")


def escaping():
    print("# control characters in a user name forge nothing")
    for name in ("x\nFORGED line", "\x1b[31m"):
        _, st, _ = login(name, "some-password")
        ok(st == 401, f"sign-in as {name!r} -> {st}")
    time.sleep(1)
    with open(LOG, "rb") as f:
        log = f.read()
    ok(not re.search(rb"(?m)^FORGED line", log),
       "no log line starts with the forged text")
    ok(b"\x1b" not in log, "no raw ESC in the server log")
    ok(b"x\\nFORGED line" in log and b"\\x1b[31m" in log,
       "the names are logged, escaped")
    raw = psql("SELECT count(*) FROM alia.audit "
               "WHERE actor ~ '[\\x01-\\x1f\\x7f]' "
               "OR detail ~ '[\\x01-\\x1f\\x7f]'")
    esc = psql("SELECT count(*) FROM alia.audit WHERE actor IN "
               "(E'x\\\\nFORGED line', E'\\\\x1b[31m')")
    ok(raw == "0" and esc == "2",
       f"alia.audit: {raw} rows with control characters, {esc} with the "
       "names escaped")


run(setup, passwd, disable, limiter, delays, escaping)
