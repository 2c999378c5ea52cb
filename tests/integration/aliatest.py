# SPDX-License-Identifier: ISC
"""What the Python integration tests share: TAP-like results, psql on the
server's database, an HTTP client with a cookie jar, and a websocket
client. Run under with-server.sh, which sets the ALIA_* variables."""
import atexit
import base64
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import time

URL = os.environ["ALIA_URL"]
HOST, PORT = URL.split("://", 1)[1].split(":")
PORT = int(PORT)
ALIA = os.environ["ALIA_BIN"]
SERVER = int(os.environ["ALIA_SERVER_PID"])
failures = 0
failed = []  # the failed checks' lines, said again as the script ends


def _say_failed_again():
    """After whatever the test prints last (a server log, say): the
    failed checks, where a log cut to its last lines still shows them."""
    for line in failed:
        print(f"# failed: {line}", flush=True)


atexit.register(_say_failed_again)


def ok(cond, what):
    """Prints one result line; counts failures in aliatest.failures."""
    global failures
    print(("ok - " if cond else "not ok - ") + what, flush=True)
    if not cond:
        failures += 1
        failed.append(what)
    return cond


def run(*parts):
    """Runs each part (a broken one fails, the rest still run); exits."""
    for part in parts:
        try:
            part()
        except Exception as e:
            ok(False, f"{part.__name__}: {type(e).__name__}: {e}")
    print(f"# {failures} failure(s)")
    sys.exit(1 if failures else 0)


def connect(timeout=30, source=None):
    """A connection to the server: TLS when ALIA_URL is https. source: the
    local address to connect from (another loopback address, say)."""
    s = socket.create_connection((HOST, PORT), timeout=timeout,
                                 source_address=(source, 0) if source
                                 else None)
    if URL.startswith("https://"):
        ctx = ssl.create_default_context(cafile=os.environ["ALIA_TLS_CERT"])
        ctx.check_hostname = False
        s = ctx.wrap_socket(s)
    return s


def child_pids(title):
    """The server's (master's) children whose command line holds title."""
    r = subprocess.run(["pgrep", "-P", str(SERVER), "-f", title],
                       capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]


def session_worker(sid, limit=10):
    """The pid of session sid's worker: the live child of the server that
    last logged under the session's id (its log line at start). A pid
    count would not do: the warm pool keeps workers forked ahead."""
    pat = re.compile(rb"worker\[(\d+)\] s=" + re.escape(sid.encode()))
    end = time.time() + limit
    while True:
        with open(os.environ["ALIA_SERVER_LOG"], "rb") as f:
            pids = [int(m.group(1)) for m in pat.finditer(f.read())]
        alive = set(child_pids("alia: worker"))
        for pid in reversed(pids):
            if pid in alive:
                return pid
        if time.time() >= end:
            raise RuntimeError(f"no live worker of session {sid} logged")
        time.sleep(0.1)


def psql(sql):
    r = subprocess.run([ALIA, "psql", "-XqAt", "-c", sql],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("psql: " + r.stderr.strip())
    return r.stdout.rstrip("\n")


def psql_until(query, want, limit=30, step=0.5):
    """Asks query until it answers want or limit seconds pass; the last
    answer."""
    end = time.time() + limit
    got = None
    while time.time() < end:
        got = psql(query)
        if got == want:
            break
        time.sleep(step)
    return got


class Agent:
    """One browser: a cookie jar of one cookie."""

    def __init__(self, source=None):
        self.cookie = None
        self.source = source

    def request(self, method, path, body=None, headers=None):
        s = connect(source=self.source)
        head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{PORT}\r\n"
        head += "Connection: close\r\n"
        if self.cookie:
            head += f"Cookie: {self.cookie}\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        data = body.encode() if body else b""
        head += f"Content-Length: {len(data)}\r\n\r\n"
        s.sendall(head.encode() + data)
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
        s.close()
        head, _, body = buf.partition(b"\r\n\r\n")
        self.head = head.decode()
        lines = self.head.split("\r\n")
        status = int(lines[0].split()[1])
        for l in lines[1:]:
            if l.lower().startswith("set-cookie:"):
                self.cookie = l.split(":", 1)[1].strip().split(";")[0]
        return status, body

    def create(self):
        st, body = self.request("POST", "/api/sessions")
        if st != 201:
            raise RuntimeError(f"POST /api/sessions: {st} {body!r}")
        return json.loads(body)["id"]


class UpgradeRefused(RuntimeError):
    """A websocket upgrade answered with something else than 101."""

    def __init__(self, status, body, line):
        super().__init__("upgrade: " + line)
        self.status = status
        self.body = body


class WS:
    """A terminal websocket: masked frames out, whole messages in."""

    def __init__(self, agent, sid, mode=None, origin=None, path=None):
        """path: another websocket than the session's (/ws/wall?ids=...).
        It connects from the agent's source address."""
        self.s = connect(source=agent.source)
        key = base64.b64encode(os.urandom(16)).decode()
        q = f"?mode={mode}" if mode else ""
        path = path or f"/ws/sessions/{sid}{q}"
        extra = f"Origin: {origin}\r\n" if origin else ""
        if agent.cookie:
            extra += f"Cookie: {agent.cookie}\r\n"
        self.s.sendall((f"GET {path} HTTP/1.1\r\n"
                        f"Host: {HOST}:{PORT}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        f"Sec-WebSocket-Version: 13\r\n{extra}"
                        "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise RuntimeError("upgrade: connection closed")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ", 2)[1])
        if self.status != 101:
            raise UpgradeRefused(self.status, self.buf,
                                 head.decode().split("\r\n")[0])
        self.closed = False

    def send(self, op, data):
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = bytes([0x80 | op, 0x80 | n])
        elif n < 65536:
            hdr = bytes([0x80 | op, 0xfe]) + struct.pack(">H", n)
        else:
            hdr = bytes([0x80 | op, 0xff]) + struct.pack(">Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.s.sendall(hdr + mask + body)

    def type(self, text):
        self.send(2, text.encode())

    def recv(self, timeout):
        """One message (op, data), or None on timeout or close."""
        end = time.time() + timeout
        while True:
            if len(self.buf) >= 2:
                op, n, off = self.buf[0] & 15, self.buf[1] & 127, 2
                if n == 126 and len(self.buf) >= 4:
                    n, off = struct.unpack(">H", self.buf[2:4])[0], 4
                elif n == 127 and len(self.buf) >= 10:
                    n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
                elif n >= 126:
                    n, off = 1 << 62, 0  # the length is not all here yet
                if len(self.buf) >= off + n:
                    data = self.buf[off:off + n]
                    self.buf = self.buf[off + n:]
                    if op == 8:
                        self.closed = True
                    return op, data
            left = end - time.time()
            if left <= 0 or self.closed:
                return None
            self.s.settimeout(left)
            try:
                d = self.s.recv(1 << 20)
            except (socket.timeout, ConnectionError):
                return None
            if not d:
                self.closed = True
                return None
            self.buf += d

    def read_until(self, pattern, timeout):
        """Output until pattern (bytes regex) matches; the output so far."""
        out = b""
        end = time.time() + timeout
        while time.time() < end:
            m = self.recv(end - time.time())
            if m is None:
                if self.closed:
                    break
                continue
            if m[0] == 2:
                out += m[1]
                if re.search(pattern, out):
                    return out
        return None

    def close_code(self, seconds):
        """The close frame's code within seconds ("eof": the connection
        ended without one; None: nothing came)."""
        end = time.time() + seconds
        while time.time() < end:
            m = self.recv(end - time.time())
            if m is None:
                if self.closed:
                    return "eof"
                continue
            if m[0] == 8:
                return (struct.unpack(">H", m[1][:2])[0]
                        if len(m[1]) >= 2 else 0)
        return None

    def close(self):
        self.s.close()




class Term:
    """A websocket that keeps what it got: output bytes and JSON events."""

    def __init__(self, agent, sid, mode):
        self.ws = WS(agent, sid, mode)
        self.out = b""
        self.events = []

    def pump(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            m = self.ws.recv(max(0.05, end - time.time()))
            if m is None:
                continue
            if m[0] == 2:
                self.out += m[1]
            elif m[0] == 1:
                self.events.append(json.loads(m[1]))

    def wait_out(self, needle, seconds=10):
        end = time.time() + seconds
        while needle not in self.out and time.time() < end:
            self.pump(0.1)
        return needle in self.out

    def wait_event(self, pred, seconds=10):
        end = time.time() + seconds
        while time.time() < end:
            for e in self.events:
                if pred(e):
                    return e
            self.pump(0.1)
        return None

    def type(self, text):
        self.ws.type(text)

    def run(self, line, needle, seconds=20):
        """Types line and Enter; whether needle came (the output from the
        line on is in out)."""
        self.out = b""
        self.ws.type(line + "\r")
        return self.wait_out(needle, seconds)

    def send(self, obj):
        self.ws.send(1, json.dumps(obj).encode())


def cli(*args, stdin=None):
    """Runs an alia command on the server's data; its output."""
    r = subprocess.run([ALIA, *args], input=stdin, capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"alia {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def free_port():
    """A TCP port free on 127.0.0.1 now (for another alia)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def healthy(url, seconds):
    """Whether url's /healthz answers ok within seconds."""
    end = time.time() + seconds
    while time.time() < end:
        r = subprocess.run(["curl", "-s", "--max-time", "2",
                            url + "/healthz"], capture_output=True)
        if r.stdout.strip() == b"ok":
            return True
        time.sleep(0.2)
    return False


def login(name, password, origin=None, source=None):
    """Signs in: (agent holding the cookie, status, body); source: the
    local address to come from."""
    a = Agent(source)
    body = json.dumps({"username": name, "password": password})
    st, resp = a.request("POST", "/api/login", body,
                         {"Origin": origin} if origin else None)
    return a, st, resp


def sign_in_all(passwords):
    """Signs each name of passwords in: {name: agent}."""
    agents = {}
    for name, password in passwords.items():
        agents[name], st, _ = login(name, password)
        ok(st == 200, f"{name} signs in")
    return agents
