#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Hostile JSON and a hostile Origin: run under with-server.sh with
ALIA_AUTH=password.

300 000 nested brackets (600 KB, under max_body) go to every route that
reads a JSON body: sign-in, session create, share create; as deep a text
frame as a websocket message may hold goes to the terminal. Each is
refused (400 with {"error": ...}, or an error message on the websocket)
while front and the session's worker keep their pids and /healthz, polled
from a thread all along, answers within 100 ms. At the limit: 32 levels
pass, 33 do not. And an Origin of the wrong scheme (https on this plain
listener) is refused.
"""
import json
import threading
import time

import aliatest
from aliatest import HOST, PORT, WS, Agent, child_pids, cli, login, ok

PW = "jay-Deep-0c41e"
LEVELS = 300000
DEEP = "[" * LEVELS + "]" * LEVELS
HEALTHZ_MAX_MS = 100


class Poller(threading.Thread):
    """GET /healthz every 10 ms; the slowest answer and the failures."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.worst = 0.0
        self.count = 0
        self.failures = []

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                st, _ = Agent().request("GET", "/healthz")
                if st != 200:
                    self.failures.append(f"status {st}")
            except Exception as e:
                self.failures.append(f"{type(e).__name__}: {e}")
            self.worst = max(self.worst, time.monotonic() - t0)
            self.count += 1
            self.stop.wait(0.01)


def error_400(st, body):
    """A refusal: 400 and an object holding only "error"."""
    try:
        obj = json.loads(body)
    except ValueError:
        return False
    return st == 400 and isinstance(obj, dict) and set(obj) == {"error"}


def nested(levels):
    """A share body whose "x" makes the whole text levels deep."""
    inner = "[" * (levels - 1) + "]" * (levels - 1)
    return '{"minutes": 30, "x": ' + inner + "}"


def attack(what, fn):
    """Runs one attack; a connection broken by a crash fails it."""
    try:
        fn()
    except Exception as e:
        ok(False, f"{what}: {type(e).__name__}: {e}")


def main_part():
    cli("user", "add", "jay", "--role", "learner", stdin=PW + "\n")
    jay, st, _ = login("jay", PW)
    ok(st == 200, f"jay signs in ({st})")
    sid = jay.create()
    fronts = child_pids("alia: front")
    ok(len(fronts) == 1, f"one front ({fronts})")
    ws = WS(jay, sid)
    ws.read_until(rb"\$ ", 30)
    worker = aliatest.session_worker(sid)

    poll = Poller()
    poll.start()
    time.sleep(0.2)

    def do_login():
        st, body = Agent().request("POST", "/api/login", DEEP)
        ok(error_400(st, body),
           f"POST /api/login with {LEVELS} levels -> {st} {body[:80]!r}")

    def do_create():
        st, body = jay.request("POST", "/api/sessions", DEEP)
        ok(error_400(st, body),
           f"POST /api/sessions with {LEVELS} levels -> {st} {body[:80]!r}")

    def do_share():
        st, body = jay.request("POST", f"/api/sessions/{sid}/shares", DEEP)
        ok(error_400(st, body),
           f"POST /api/sessions/ID/shares with {LEVELS} levels -> {st} "
           f"{body[:80]!r}")
        st, body = jay.request("POST", f"/api/sessions/{sid}/shares",
                               nested(32))
        ok(st == 201, f"a share body 32 levels deep passes ({st})")
        st, body = jay.request("POST", f"/api/sessions/{sid}/shares",
                               nested(33))
        ok(error_400(st, body), f"33 levels are refused ({st})")

    def do_ws():
        # The deepest text a websocket message (64 KB at most) can hold.
        n = 32000
        ws.send(1, ("[" * n + "]" * n).encode())
        got = None
        end = time.time() + 10
        while time.time() < end and not ws.closed:
            m = ws.recv(1)
            if m and m[0] == 1 and json.loads(m[1])["type"] == "error":
                got = json.loads(m[1])["message"]
                break
        ok(got is not None and "nested too deeply" in got,
           f"a websocket text frame {n} levels deep -> error: {got}")
        ws.send(1, b'{"type":"ping"}')
        pong = None
        while time.time() < end and not ws.closed:
            m = ws.recv(1)
            if m and m[0] == 1 and json.loads(m[1])["type"] == "pong":
                pong = m
                break
        ok(pong is not None, "and the websocket still answers a ping")

    for what, fn in (("login", do_login), ("create", do_create),
                     ("share", do_share), ("websocket", do_ws)):
        attack(what, fn)

    time.sleep(0.2)
    poll.stop.set()
    poll.join()
    ok(child_pids("alia: front") == fronts,
       f"front kept its pid ({fronts} -> {child_pids('alia: front')})")
    now = aliatest.session_worker(sid)
    ok(now == worker, f"the session's worker kept its pid ({worker} -> {now})")
    ok(not poll.failures and poll.worst * 1000 < HEALTHZ_MAX_MS,
       f"/healthz answered {poll.count} polls, the slowest in "
       f"{poll.worst * 1000:.1f} ms (< {HEALTHZ_MAX_MS}), "
       f"{len(poll.failures)} failed {poll.failures[:3]}")
    ws.close()


def origin_part():
    _, st, _ = login("jay", PW, origin=f"https://{HOST}:{PORT}")
    ok(st == 403, f"an https Origin on a plain listener is refused ({st})")
    _, st, _ = login("jay", PW, origin=f"http://{HOST}:{PORT}")
    ok(st == 200, f"our own http Origin is not ({st})")


aliatest.run(main_part, origin_part)
