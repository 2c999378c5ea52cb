#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A worker's memory is bounded whatever its browsers do: run under
with-server.sh with ALIA_AUTH=password, ALIA_MAX_VIEWERS_PER_USER=40,
ALIA_MAX_SESSIONS=3 and ALIA_MAX_WALLS_PER_USER=2.

Learner lee's session S prints about 100 KB/s all the time. Against S, one
after the other: a client that floods PING frames and never reads; 300
websockets that never read, with connect/close churn (64 are let in:
the 65th and later get an error and close 1008); clients that send a
frame or a message larger than the 64 KiB limit. Meanwhile keystroke
echo is measured on lee's other session E. The worker of S must stay
under its documented ceiling (WORKER_CEILING_MIB, doubled under
AddressSanitizer), E's echo p99 under 50 ms, and once the clients have
left, S's worker must be back within twice its idle RSS. A reading
watcher counts the viewers messages the churn caused: coalesced, at
most a few a second. Then the global and per-instructor caps:
max_sessions (503 with a reason) and max_walls_per_user (429).
"""
import base64
import json
import os
import socket
import statistics
import struct
import threading
import time

import aliatest
from aliatest import WS, UpgradeRefused, cli, connect, login, ok

WORKER_CEILING_MIB = 64  # README: "a worker's memory"
ASAN = "asan" in os.environ.get("ALIA_BUILDDIR", "")
# AddressSanitizer's redzones and quarantine: measured 2.75x the worker's
# RSS under the same attack, and 2-3x the time per key.
CEILING_KIB = WORKER_CEILING_MIB * 1024 * (3 if ASAN else 1)
ECHO_P99_MS = 100 if ASAN else 50
PW = {"lee": "lee-Bounds-5c1e9", "ivy": "ivy-Bounds-77a20"}
PER_USER = 40
MAX_VIEWERS = 64


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Sampler:
    """Samples a process's VmRSS every 50 ms; keeps the peak."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.05)

    def done(self):
        self.stop = True
        self.t.join()
        self.peak = max(self.peak, rss_kib(self.pid))
        return self.peak


class Echo:
    """Keystroke echo on a session of its own, measured all along."""

    def __init__(self, agent, sid):
        self.ws = WS(agent, sid, "control")
        self.ws.read_until(rb"\$ ", 20)
        self.times, self.stop, self.lost = [], False, 0
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        n = 0
        while not self.stop:
            c = "abcdefghij"[n % 10]
            t0 = time.time()
            self.ws.type(c)
            if self.ws.read_until(c.encode(), 5) is None:
                self.lost += 1
            else:
                self.times.append((time.time() - t0) * 1000)
            n += 1
            if n % 40 == 0:
                self.ws.type("\x15")  # kill the line
                self.ws.read_until(rb"\$ $", 1)
            time.sleep(0.02)

    def done(self):
        self.stop = True
        self.t.join()
        return self.times


def raw_ws(agent, path):
    """A websocket that is opened and then left alone: the socket. Its
    receive buffer is as small as the kernel allows, so that what it
    does not read piles up in the worker rather than in the kernel."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.settimeout(30)
    s.connect((aliatest.HOST, aliatest.PORT))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: {aliatest.HOST}:"
               f"{aliatest.PORT}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nCookie: {agent.cookie}\r\n"
               "\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            raise RuntimeError("upgrade: closed")
        head += d
    return s, int(head.split(b" ", 2)[1])


def frame(op, data, fin=True):
    mask = os.urandom(4)
    n = len(data)
    b0 = (0x80 if fin else 0) | op
    if n < 126:
        hdr = bytes([b0, 0x80 | n])
    elif n < 65536:
        hdr = bytes([b0, 0xfe]) + struct.pack(">H", n)
    else:
        hdr = bytes([b0, 0xff]) + struct.pack(">Q", n)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def close_code(ws, seconds):
    """The close code the server sent (None if none), and its text
    messages before it."""
    texts = []
    end = time.time() + seconds
    while time.time() < end:
        m = ws.recv(end - time.time())
        if m is None:
            break
        if m[0] == 1:
            texts.append(json.loads(m[1]))
        if m[0] == 8:
            return (struct.unpack(">H", m[1][:2])[0] if len(m[1]) >= 2
                    else 0), texts
    return None, texts


def setup():
    cli("group", "add", "gb")
    cli("user", "add", "lee", "--role", "learner", "--group", "gb",
        stdin=PW["lee"] + "\n")
    cli("user", "add", "ivy", "--role", "instructor", "--group", "gb",
        stdin=PW["ivy"] + "\n")
    return aliatest.sign_in_all(PW)


def ping_flood(agent, sid, sampler):
    """PING frames, never reading, for up to 100 MB or 20 s."""
    s, st = raw_ws(agent, f"/ws/sessions/{sid}?mode=watch")
    ok(st == 101, f"the PING flooder is let in ({st})")
    ping = b"".join(frame(9, b"p" * 125) for _ in range(500))
    s.setblocking(False)
    sent, off, end = 0, 0, time.time() + 20
    while sent < 100 * 1024 * 1024 and time.time() < end:
        try:
            n = s.send(ping[off:])  # whole frames only, in order
        except BlockingIOError:
            time.sleep(0.01)
            continue
        sent += n
        off = (off + n) % len(ping)
    time.sleep(1)
    peak = sampler.peak
    print(f"# PING flood: {sent / 1048576:.1f} MB of PINGs went in within "
          f"20 s; the worker's RSS peaked at {peak} KiB")
    ok(sent < 100 * 1024 * 1024,
       f"the worker stopped reading a browser that does not read its "
       f"PONGs ({sent / 1048576:.1f} MB accepted, of 100 MB offered)")
    s.close()


def viewers_churn(agents, sid, sampler):
    """300 websockets that never read, with churn; 64 let in."""
    watcher = WS(agents["lee"], sid, "watch")  # reads: counts viewers msgs
    held, refused = [], []
    for i in range(300):
        who = agents["lee"] if i % 2 == 0 else agents["ivy"]
        try:
            s, st = raw_ws(who, f"/ws/sessions/{sid}?mode=watch")
        except (OSError, RuntimeError):
            continue
        held.append((who, s))
    # Those refused meanwhile are cut off within 3 s (WS_EXIT_SEC); the
    # output queued for those let in reaches its bound meanwhile.
    time.sleep(8)
    # Read the refusals of two more: an error message, then 1008.
    extra = []
    for who in (agents["ivy"], agents["lee"]):
        w = WS(who, sid, "watch")
        code, texts = close_code(w, 5)
        extra.append((code, texts))
    print(f"# {len(held)} websockets opened and never read")
    code, texts = extra[0]
    ok(code == 1008 and any("max_viewers" in t.get("message", "")
                            for t in texts),
       f"a browser past max_viewers gets an error and 1008: {code} "
       f"{str(texts)[:300]}")
    # Churn: close and reopen 100 of the held ones.
    t0 = time.time()
    for i in range(100):
        who, s = held.pop(0)
        s.close()
        s2, _ = raw_ws(who, f"/ws/sessions/{sid}?mode=watch")
        held.append((who, s2))
    churn_s = time.time() - t0
    time.sleep(1)
    n = 0
    while True:
        m = watcher.recv(0.2)
        if m is None:
            break
        if m[0] == 1 and json.loads(m[1])["type"] == "viewers":
            n += 1
    print(f"# 200 joins and leaves in {churn_s:.1f} s gave the reading "
          f"watcher {n} viewers messages; RSS peak {sampler.peak} KiB")
    ok(n <= 4 * (churn_s + 2) + 2,
       f"viewer updates are coalesced: {n} messages for 200 joins and "
       f"leaves in {churn_s:.1f} s")
    for _, s in held:
        s.close()
    watcher.close()


def per_user_cap(agents, sid):
    """The 41st browser of one person is refused; others still come."""
    mine = [WS(agents["lee"], sid, "watch") for _ in range(PER_USER - 1)]
    w = WS(agents["lee"], sid, "watch")
    code, texts = close_code(w, 5)
    ok(code == 1008 and any("max_viewers_per_user" in t.get("message", "")
                            for t in texts),
       f"lee's {PER_USER + 1}th browser is refused: {code} "
       f"{str(texts)[:300]}")
    iv = WS(agents["ivy"], sid, "watch")
    hello = None
    for _ in range(10):
        m = iv.recv(2)
        if m and m[0] == 1 and json.loads(m[1])["type"] == "hello":
            hello = json.loads(m[1])
            break
    ok(hello is not None, "ivy still gets in")
    for x in mine + [iv]:
        x.close()


def giant(agent, sid, sampler):
    """A frame and a fragmented message over the 64 KiB limit."""
    for what, data in (
            ("a 16 MiB frame", frame(2, b"g" * (16 << 20))),
            ("a message of 1000 fragments of 16 KiB",
             frame(2, b"f" * 16384, fin=False) +
             b"".join(frame(0, b"f" * 16384, fin=False)
                      for _ in range(999)))):
        w = WS(agent, sid, "watch")
        w.s.setblocking(False)
        off = 0
        end = time.time() + 10
        while off < len(data) and time.time() < end:
            try:
                off += w.s.send(data[off:off + 65536])
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
        w.s.setblocking(True)
        code, _ = close_code(w, 5)
        ok(code in (1009, 1002),
           f"{what}: closed with {code} after {off >> 10} KiB")
        w.close()
    print(f"# giant frames: RSS peak {sampler.peak} KiB")


def caps(agents, sids):
    """max_sessions (3 here) and max_walls_per_user (2 here)."""
    a2, _, _ = login("ivy", PW["ivy"])
    third = a2.create()
    st, body = a2.request("POST", "/api/sessions")
    ok(st == 503 and "max_sessions" in json.loads(body).get("error", ""),
       f"the 4th session on the server gets 503 and why: {st} {body!r}")
    walls = []
    for i in range(3):
        s, st = raw_ws(agents["ivy"], f"/ws/wall?ids={sids[0]}")
        walls.append((s, st))
    ok([st for _, st in walls[:2]] == [101, 101],
       f"ivy opens 2 walls: {[st for _, st in walls]}")
    s3, st3 = walls[2]
    body = b""
    s3.settimeout(5)
    try:
        while True:
            d = s3.recv(4096)
            if not d:
                break
            body += d
    except OSError:
        pass
    ok(st3 == 429 and b"max_walls_per_user" in body,
       f"her 3rd wall gets 429 and why: {st3} {body!r}")
    for s, _ in walls:
        s.close()
    a2.request("DELETE", f"/api/sessions/{third}")


def main_part():
    agents = setup()
    lee = agents["lee"]
    sid = lee.create()
    wpid = aliatest.session_worker(sid)
    ctl = WS(lee, sid, "control")
    ok(ctl.read_until(rb"\$ ", 20) is not None, "S has a prompt")
    # S prints about 100 KB/s for the whole test: enough for every
    # browser that does not read to reach its budget within seconds.
    ctl.type("while :; do seq 1 5000; sleep 0.25; done\r")
    esid = lee.create()
    echo = Echo(lee, esid)
    time.sleep(2)
    ctl.recv(0.5)
    idle = rss_kib(wpid)
    print(f"# worker of S: {idle} KiB idle (one control browser)")
    sampler = Sampler(wpid)

    ping_flood(lee, sid, sampler)
    viewers_churn(agents, sid, sampler)
    giant(lee, sid, sampler)
    peak = sampler.done()
    times = echo.done()

    ok(peak < CEILING_KIB,
       f"the worker's RSS peaked at {peak} KiB, under the ceiling of "
       f"{CEILING_KIB} KiB")
    times.sort()
    if times:
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"# echo on E during the attacks: {len(times)} keys, "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, {echo.lost} lost")
        ok(p99 < ECHO_P99_MS and echo.lost == 0,
           f"E's echo p99 {p99:.1f} ms stays under {ECHO_P99_MS} ms")
    else:
        ok(False, "no echo was measured on E")

    # The clients are gone: the worker gives its memory back.
    after = rss_kib(wpid)
    for _ in range(20):
        if after <= 2 * idle:
            break
        time.sleep(0.5)
        after = rss_kib(wpid)
    print(f"# worker of S after the clients left: {after} KiB "
          f"(idle {idle}, peak {peak})")
    if ASAN:
        # ASan's allocator keeps freed memory (its quarantine, its size
        # classes) out of malloc_trim's reach: what is measured there is
        # ASan, not the worker. The gcc build checks the give-back.
        print(f"# not checked under AddressSanitizer: {after} KiB after, "
              f"{idle} idle")
    else:
        ok(after <= 2 * idle,
           f"the worker is back within 2x its idle RSS: {after} <= 2 x "
           f"{idle}")

    per_user_cap(agents, sid)
    ctl.type("\x03")
    caps(agents, [sid, esid])
    ctl.close()


if __name__ == "__main__":
    aliatest.run(main_part)
