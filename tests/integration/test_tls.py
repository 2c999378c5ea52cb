#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""TLS: run under with-server.sh with ALIA_TLS_CERT and ALIA_TLS_KEY set
(tests/integration/test_tls.sh makes a throwaway certificate).

front speaks HTTPS and WSS only: the API answers over TLS, a plain-text
request gets no HTTP answer, sign-in cookies are Secure, and a terminal
websocket over TLS (relayed by front to the worker) carries a command and
its output both ways, with a large output arriving whole.
"""
import base64
import json
import os
import socket
import ssl
import struct
import sys
import time

import aliatest
from aliatest import PORT, cli, ok

HOST = "127.0.0.1"
CTX = ssl.create_default_context(cafile=os.environ["ALIA_TLS_CERT"])
CTX.check_hostname = False


def tls():
    return CTX.wrap_socket(socket.create_connection((HOST, PORT), timeout=30))


def request(method, path, body=b"", headers=""):
    s = tls()
    s.sendall((f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
               f"Connection: close\r\nContent-Length: {len(body)}\r\n"
               f"{headers}\r\n").encode() + body)
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode(), body


def main_part():
    st, _, body = request("GET", "/healthz")
    ok(st == 200 and body.strip() == b"ok",
       f"GET /healthz over TLS -> {st}")
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
    st, head, body = request("POST", "/api/login",
                             json.dumps({"username": "tia",
                                         "password": "tia-Tls-7c21e"}).encode())
    cookie = next((l.split(":", 1)[1].strip() for l in head.split("\r\n")
                   if l.lower().startswith("set-cookie:")), "")
    ok(st == 200 and "; Secure" in cookie, f"sign-in over TLS, Secure cookie")
    jar = cookie.split(";")[0]
    st, _, body = request("POST", "/api/sessions",
                          headers=f"Cookie: {jar}\r\n")
    ok(st == 201, f"POST /api/sessions over TLS -> {st}")
    sid = json.loads(body)["id"]

    s = tls()
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws/sessions/{sid} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               f"Cookie: {jar}\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, buf = buf.split(b"\r\n\r\n", 1)
    ok(head.startswith(b"HTTP/1.1 101"), "a websocket over TLS: 101")

    def frames(until, limit):
        nonlocal buf
        out = b""
        end = time.time() + limit
        while until not in out and time.time() < end:
            while len(buf) >= 2:
                n, off = buf[1] & 127, 2
                if n == 126:
                    n, off = struct.unpack(">H", buf[2:4])[0], 4
                elif n == 127:
                    n, off = struct.unpack(">Q", buf[2:10])[0], 10
                if len(buf) < off + n:
                    break
                if buf[0] & 15 == 2:
                    out += buf[off:off + n]
                buf = buf[off + n:]
            if until in out:
                break
            s.settimeout(max(0.1, end - time.time()))
            try:
                d = s.recv(1 << 20)
            except socket.timeout:
                continue
            if not d:
                break
            buf += d
        return out

    def send(text):
        data = text.encode()
        mask = os.urandom(4)
        s.sendall(bytes([0x82, 0x80 | len(data)]) + mask +
                  bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    ok(b"$ " in frames(b"$ ", 20), "the prompt arrives through the relay")
    send("echo tls-$((6*7))\r")
    ok(b"tls-42" in frames(b"tls-42", 10), "a command and its output")
    send("seq 1 200000 | tail -c 7; echo END-$((1+1))\r")
    out = frames(b"END-2", 60)
    ok(b"200000" in out and b"END-2" in out, "more output, through")
    send("seq 1 100000 | md5sum; seq 1 100000\r")
    big = frames(b"\r\n100000\r\n", 60)
    nums = [l for l in big.split(b"\r\n") if l.isdigit()]
    ok(len(nums) >= 99000 and nums[-1] == b"100000",
       f"a large output arrives whole ({len(big)} bytes)")
    s.close()
    request("DELETE", f"/api/sessions/{sid}", headers=f"Cookie: {jar}\r\n")


def main():
    try:
        main_part()
    except Exception as e:
        ok(False, f"{type(e).__name__}: {e}")
    print(f"# {aliatest.failures} failure(s)")
    sys.exit(1 if aliatest.failures else 0)


if __name__ == "__main__":
    main()
