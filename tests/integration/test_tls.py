#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""TLS: run under with-server.sh with ALIA_TLS_CERT and ALIA_TLS_KEY set
(tests/integration/test_tls.sh makes a throwaway certificate; ALIA_URL is
https, and aliatest's clients speak TLS).

front speaks HTTPS and WSS only: the API answers over TLS, a plain-text
request gets no HTTP answer, sign-in cookies are Secure, and a terminal
websocket over TLS (relayed by front to the worker) carries a command and
its output both ways, with a large output arriving whole; a websocket
master refuses gets its HTTP answer over TLS.
"""
import json
import socket

import aliatest
from aliatest import HOST, PORT, WS, Agent, UpgradeRefused, cli, login, ok


def refused(agent, sid):
    """The status and error of a websocket upgrade refused over TLS."""
    try:
        WS(agent, sid).close()
    except UpgradeRefused as e:
        return e.status, json.loads(e.body).get("error")
    return 101, None


def main_part():
    st, body = Agent().request("GET", "/healthz")
    ok(st == 200 and body.strip() == b"ok", f"GET /healthz over TLS -> {st}")
    s = socket.create_connection((HOST, PORT), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        got = s.recv(100)
    except OSError:
        got = b""
    s.close()
    ok(not got.startswith(b"HTTP/1.1 200"),
       f"plain HTTP gets no answer ({got[:20]!r})")

    cli("user", "add", "tia", "--role", "learner", stdin="tia-Tls-7c21e\n")
    a, st, _ = login("tia", "tia-Tls-7c21e")
    cookie = next((l for l in a.head.split("\r\n")
                   if l.lower().startswith("set-cookie:")), "")
    ok(st == 200 and "; Secure" in cookie, "sign-in over TLS, Secure cookie")
    sid = a.create()
    ok(len(sid) == 36, f"POST /api/sessions over TLS: {sid}")

    w = WS(a, sid)
    ok(w.status == 101, "a websocket over TLS: 101")
    ok(w.read_until(rb"\$ ", 20) is not None,
       "the prompt arrives through the relay")
    w.type("echo tls-$((6*7))\r")
    ok(w.read_until(rb"tls-42", 10) is not None, "a command and its output")
    w.type("seq 1 100000\r")
    big = w.read_until(rb"\r\n100000\r\n", 60) or b""
    nums = [l for l in big.split(b"\r\n") if l.isdigit()]
    ok(len(nums) >= 99000 and nums[-1] == b"100000"
       and nums == [str(i).encode() for i in range(int(nums[0]), 100001)],
       f"a large output arrives whole and in order ({len(big)} bytes)")
    w.close()

    # master refuses; front answers over TLS and drops the kept socketpair
    st, err = refused(a, "00000000-0000-4000-8000-000000000000")
    ok(st == 404 and err == "no such session",
       f"a websocket to an unknown session over TLS -> {st} {err!r}")
    cli("user", "add", "tom", "--role", "learner", stdin="tom-Tls-3e9d1\n")
    b, _, _ = login("tom", "tom-Tls-3e9d1")
    st, err = refused(b, sid)
    ok(st == 403 and err == "this session is not yours",
       f"another learner's websocket over TLS -> {st} {err!r}")
    a.request("DELETE", f"/api/sessions/{sid}")


def main():
    aliatest.run(main_part)


if __name__ == "__main__":
    main()
