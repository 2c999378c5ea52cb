#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""TLS: run under with-server.sh with ALIA_TLS_CERT and ALIA_TLS_KEY set
(tests/integration/test_tls.sh makes a throwaway certificate; ALIA_URL is
https, and aliatest's clients speak TLS).

front speaks HTTPS and WSS only: the API answers over TLS, a plain-text
request gets no HTTP answer, sign-in cookies are Secure, and a terminal
websocket over TLS (relayed by front to the worker) carries a command and
its output both ways, with a large output arriving whole.
"""
import json
import socket

import aliatest
from aliatest import HOST, PORT, WS, Agent, cli, login, ok


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
    a.request("DELETE", f"/api/sessions/{sid}")


def main():
    aliatest.run(main_part)


if __name__ == "__main__":
    main()
