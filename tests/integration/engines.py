#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Docker engines of a test's own, each a real dockerd in a network
namespace made for it and reached over a veth pair on TCP (2375) or TLS
(2376, with a CA and certificates made here by openssl), as
shared/docker-api.md measured. The namespace is entered with nsenter
--net (ip netns exec remounts /sys and hides the cgroup mounts). Each
engine has its own data root, exec root (its own containerd), pid file
and socket under a temporary directory, and an address 10.251.K.2/30
whose K no other interface or namespace uses (chosen under a lock).

As a module: Engine(name, tls).up() ... .down(); daemon_stop(sig) and
daemon_start() stop and start its dockerd alone (the data stays).
HungEngine(name) is no engine at all: in a namespace of its own as
above, a listener on 10.251.K.2:2375 that accepts every connection and
never answers (nor closes) one; its `conns` says how many it took.
As a command, for a test run by a shell script:

    engines.py [--plain NAME]... [--tls NAME]... [--bare NAME]...
               [--hung NAME]... -- CMD [ARGS...]

starts the engines, loads the sandbox image ($ALIA_IMAGE or
alia-sandbox:latest) into each but the --bare ones (a dockerd on TCP
with no image at all) and the --hung ones (the listener above), runs
CMD with, for each engine, ALIA_TEST_ENGINE_<NAME>_HOST=tcp://IP:PORT
and, over TLS, ALIA_TEST_ENGINE_<NAME>_CERT_PATH (ca.pem, cert.pem,
key.pem for a client) and ALIA_TEST_ENGINE_<NAME>_UNTRUSTED_CERT_PATH
(the same from a CA that did not sign the engine's certificate), then
takes everything down, and exits with CMD's status.

While CMD runs, ALIA_TEST_ENGINES_CONTROL names a unix socket through
which CMD has this process, which owns the engines, act on them (the
module's control() sends one line and returns the answer, or raises):
`stop NAME [SIGNAL]` (daemon_stop; SIGNAL a name such as KILL, TERM by
default), `start NAME` (daemon_start) and `info NAME` (`ok url=URL
running=0|1`, and for a hung one `conns=N`). Answers are `ok ...` or
`error ...`.
Standard library only; run as root."""
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

LOCK = "/run/alia-test-engines.lock"
NS_DIR = "/var/run/netns"


def run(*args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}: "
                           f"{(r.stderr or r.stdout).strip()[:300]}")
    return r.stdout


def openssl(*args):
    run("openssl", *args)


def make_ca(d, cn):
    """A CA in d: its (certificate, key) paths."""
    ca, key = os.path.join(d, "ca.pem"), os.path.join(d, "ca-key.pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", f"/CN={cn}", "-keyout", key, "-out", ca)
    return ca, key


def make_cert(d, ca, who, ext):
    """who-cert.pem and who-key.pem in d, signed by ca with extensions
    ext (openssl's extfile lines)."""
    key, csr = os.path.join(d, f"{who}-key.pem"), os.path.join(d, f"{who}.csr")
    extf = os.path.join(d, f"{who}.ext")
    with open(extf, "w") as f:
        f.write(ext)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={who}",
            "-keyout", key, "-out", csr)
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
            "-CAcreateserial", "-days", "1", "-extfile", extf,
            "-out", os.path.join(d, f"{who}-cert.pem"))


def client_set(d, ca, out):
    """A client certificate signed by ca, put in out as a Docker client
    reads it: ca.pem, cert.pem, key.pem (read by root alone)."""
    make_cert(d, ca, "client", "extendedKeyUsage=clientAuth\n")
    os.makedirs(out)
    shutil.copy(ca[0], os.path.join(out, "ca.pem"))
    shutil.copy(os.path.join(d, "client-cert.pem"),
                os.path.join(out, "cert.pem"))
    shutil.copy(os.path.join(d, "client-key.pem"),
                os.path.join(out, "key.pem"))
    for f in os.listdir(out):
        os.chmod(os.path.join(out, f), 0o600)


class Engine:
    def __init__(self, name, tls=False):
        self.name, self.tls = name, tls
        self.k = None
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix=f"alia-engine-{name}.")
        os.chmod(self.dir, 0o755)
        self.log = os.path.join(self.dir, "dockerd.log")

    @property
    def ns(self):
        return f"alia-t{self.k}"

    @property
    def veth(self):
        return f"alia-t{self.k}"

    @property
    def ip(self):
        return f"10.251.{self.k}.2"

    @property
    def url(self):
        return f"tcp://{self.ip}:{2376 if self.tls else 2375}"

    @property
    def cert_path(self):
        return os.path.join(self.dir, "client") if self.tls else None

    @property
    def untrusted_cert_path(self):
        return os.path.join(self.dir, "untrusted") if self.tls else None

    def env(self):
        """The environment a Docker client (the CLI, alia) needs."""
        e = {"DOCKER_HOST": self.url}
        if self.tls:
            e.update(DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=self.cert_path)
        return e

    def _net_up(self):
        os.makedirs(NS_DIR, exist_ok=True)
        with open(LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = run("ip", "-o", "-4", "addr", "show")
            names = set(os.listdir(NS_DIR))
            links = run("ip", "-o", "link", "show")
            for k in range(256):
                if (f" 10.251.{k}." not in used
                        and f"alia-t{k}" not in names
                        and f" alia-t{k}:" not in links
                        and f" alia-t{k}@" not in links):
                    break
            else:
                raise RuntimeError("no free 10.251.K.0/30 for an engine")
            self.k = k
            run("ip", "netns", "add", self.ns)
            run("ip", "link", "add", self.veth, "type", "veth", "peer",
                "name", self.veth + "n")
        run("ip", "link", "set", self.veth + "n", "netns", self.ns)
        run("ip", "addr", "add", f"10.251.{k}.1/30", "dev", self.veth)
        run("ip", "link", "set", self.veth, "up")
        self.nsenter("ip", "addr", "add", f"{self.ip}/30", "dev",
                     self.veth + "n")
        self.nsenter("ip", "link", "set", self.veth + "n", "up")
        self.nsenter("ip", "link", "set", "lo", "up")

    def nsenter(self, *args):
        return run("nsenter", f"--net={NS_DIR}/{self.ns}", *args)

    def _certs(self):
        """The engine's CA, its server certificate and a client's (in
        client/, as DOCKER_CERT_PATH wants them); and in untrusted/ a
        client set whose CA did not sign the engine's certificate."""
        d = os.path.join(self.dir, "tls")
        os.makedirs(d)
        ca = make_ca(d, f"alia test CA {self.name}")
        make_cert(d, ca, "server", f"subjectAltName=IP:{self.ip}\n"
                  "extendedKeyUsage=serverAuth\n")
        client_set(d, ca, self.cert_path)
        other = os.path.join(self.dir, "other-ca")
        os.makedirs(other)
        client_set(other, make_ca(other, "another CA"),
                   self.untrusted_cert_path)

    def daemon_start(self, wait=60):
        d = self.dir
        with open(os.path.join(d, "daemon.json"), "w") as f:
            f.write("{}\n")
        args = ["nsenter", f"--net={NS_DIR}/{self.ns}", "dockerd",
                "--config-file", f"{d}/daemon.json",
                "--data-root", f"{d}/root", "--exec-root", f"{d}/exec",
                "--pidfile", f"{d}/dockerd.pid",
                "-H", f"unix://{d}/docker.sock", "-H",
                self.url, "--bridge=none", "--iptables=false",
                "--ip-forward=false"]
        if self.tls:
            t = os.path.join(d, "tls")
            args += ["--tlsverify", "--tlscacert", f"{t}/ca.pem",
                     "--tlscert", f"{t}/server-cert.pem",
                     "--tlskey", f"{t}/server-key.pem"]
        log = open(self.log, "a")
        self.proc = subprocess.Popen(args, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        end = time.time() + wait
        while time.time() < end:
            if self.proc.poll() is not None:
                break
            r = subprocess.run(["docker", "version", "--format",
                                "{{.Server.Version}}"],
                               env={**os.environ, **self.env()},
                               capture_output=True, text=True, timeout=10)
            if r.returncode == 0:
                return
            time.sleep(0.3)
        raise RuntimeError(f"engine {self.name}: dockerd did not answer on "
                           f"{self.url}; its log ends:\n{self.log_tail()}")

    def log_tail(self, n=15):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def daemon_stop(self, sig=signal.SIGTERM, wait=30):
        """Stops dockerd (SIGKILL: as a crash would); its containerd and
        shims go with a SIGTERM and are killed after a SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if sig == signal.SIGKILL:
            self._kill_left()

    def _kill_left(self):
        """Every process still running from this engine's directory (its
        containerd, shims): killed, and waited for."""
        r = subprocess.run(["pgrep", "-f", self.dir], capture_output=True,
                           text=True)
        pids = [int(p) for p in r.stdout.split() if int(p) != os.getpid()]
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        end = time.time() + 10
        while pids and time.time() < end:
            pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
            time.sleep(0.1)

    def up(self):
        self._net_up()
        if self.tls:
            self._certs()
        self.daemon_start()
        return self

    def load_image(self, image):
        save = subprocess.Popen(["docker", "save", image],
                                stdout=subprocess.PIPE)
        r = subprocess.run(["docker", "load", "-q"], stdin=save.stdout,
                           env={**os.environ, **self.env()},
                           capture_output=True, text=True)
        save.stdout.close()
        if save.wait() != 0 or r.returncode != 0:
            raise RuntimeError(f"engine {self.name}: loading {image}: "
                               f"{r.stderr.strip()[:300]}")

    def down(self):
        """Everything up() made, gone, whatever state it is in."""
        try:
            self.daemon_stop()
        finally:
            self._kill_left()
            mounts = run("findmnt", "-rn", "-o", "TARGET").split("\n")
            for m in sorted((m for m in mounts
                             if m.startswith(self.dir + "/")),
                            key=len, reverse=True):
                subprocess.run(["umount", "-l", m], capture_output=True)
            if self.k is not None:
                subprocess.run(["ip", "link", "del", self.veth],
                               capture_output=True)
                subprocess.run(["ip", "netns", "del", self.ns],
                               capture_output=True)
            shutil.rmtree(self.dir, ignore_errors=True)


# The hung engine's listener, run in its namespace: python3 THIS IP PORT
# COUNT_FILE. It holds every connection it accepts, reads nothing and
# answers nothing; COUNT_FILE says how many it took (written first once
# it listens, so that its being there means ready).
HUNG_LISTENER = r"""
import os, socket, sys
ip, port, count = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port))
s.listen(128)
held = []


def note():
    with open(count + ".new", "w") as f:
        f.write(str(len(held)))
    os.rename(count + ".new", count)


note()
while True:
    c, _ = s.accept()
    held.append(c)
    note()
"""


class HungEngine(Engine):
    """An address where an engine should be that takes connections and
    never answers: TCP accepted, not a byte back, never closed."""

    def __init__(self, name):
        super().__init__(name, False)

    @property
    def count_file(self):
        return os.path.join(self.dir, "conns")

    @property
    def conns(self):
        """How many connections it has taken (since its last start)."""
        try:
            with open(self.count_file) as f:
                return int(f.read() or 0)
        except (OSError, ValueError):
            return 0

    def daemon_start(self, wait=10):
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"engine {self.name}: already running")
        script = os.path.join(self.dir, "hung.py")
        with open(script, "w") as f:
            f.write(HUNG_LISTENER)
        try:
            os.unlink(self.count_file)
        except FileNotFoundError:
            pass
        log = open(self.log, "a")
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={NS_DIR}/{self.ns}", "/usr/bin/python3",
             script, self.ip, "2375", self.count_file],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        end = time.time() + wait
        while time.time() < end:
            if os.path.exists(self.count_file):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"engine {self.name}: the hung listener did not "
                           f"listen on {self.url}; its log ends:\n"
                           f"{self.log_tail()}")

    def load_image(self, image):
        raise RuntimeError(f"engine {self.name} is a hung listener: no "
                           "image goes there")


class Control:
    """The unix socket through which a test's command acts on the engines
    this process owns (see the module's text); a thread answers it."""

    def __init__(self, engines):
        self.engines = {e.name: e for e in engines}
        self.lock = threading.Lock()
        self.dir = tempfile.mkdtemp(prefix="alia-engines-control.")
        self.path = os.path.join(self.dir, "control")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,),
                             daemon=True).start()

    def _one(self, c):
        with c:
            f = c.makefile("rw")
            words = f.readline().split()
            try:
                with self.lock:
                    ans = "ok" + self._do(words)
            except Exception as e:
                ans = "error " + f"{type(e).__name__}: {e}".replace("\n",
                                                                    " | ")
            try:
                f.write(ans + "\n")
                f.flush()
            except OSError:
                pass

    def _do(self, words):
        if len(words) < 2 or words[0] not in ("stop", "start", "info"):
            raise ValueError("usage: stop NAME [SIGNAL] | start NAME | "
                             "info NAME")
        e = self.engines.get(words[1])
        if e is None:
            raise ValueError(f"no engine {words[1]}")
        if words[0] == "stop":
            sig = signal.SIGTERM
            if len(words) > 2:
                sig = getattr(signal, "SIG" + words[2].upper().
                              removeprefix("SIG"))
            e.daemon_stop(sig)
        elif words[0] == "start":
            if e.proc is not None and e.proc.poll() is None:
                raise RuntimeError(f"engine {e.name} is running")
            e.daemon_start()
        running = int(e.proc is not None and e.proc.poll() is None)
        out = f" url={e.url} running={running}"
        if isinstance(e, HungEngine):
            out += f" conns={e.conns}"
        return out

    def close(self):
        """No more commands; waits for one under way."""
        with self.lock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def control(line, timeout=120):
    """Sends one command to the engines.py that runs this test (through
    $ALIA_TEST_ENGINES_CONTROL); what follows its `ok`, or raises with
    its error."""
    path = os.environ["ALIA_TEST_ENGINES_CONTROL"]
    buf = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall((line + "\n").encode())
        while not buf.endswith(b"\n"):
            d = s.recv(4096)
            if not d:
                break
            buf += d
    ans = buf.decode().strip()
    if ans != "ok" and not ans.startswith("ok "):
        raise RuntimeError(f"engines.py {line}: {ans or 'no answer'}")
    return ans[2:].strip()


USAGE = ("usage: engines.py [--plain NAME]... [--tls NAME]... "
         "[--bare NAME]... [--hung NAME]... -- CMD [ARGS...]")


def main(argv):
    want = []
    while argv and argv[0] != "--":
        if len(argv) < 2 or argv[0] not in ("--plain", "--tls", "--bare",
                                            "--hung"):
            print(USAGE, file=sys.stderr)
            return 2
        want.append((argv[1], argv[0][2:]))
        argv = argv[2:]
    cmd = argv[1:]
    if not cmd:
        print("engines.py: no command after --", file=sys.stderr)
        return 2
    image = os.environ.get("ALIA_IMAGE", "alia-sandbox:latest")
    engines, env, ctl = [], dict(os.environ), None
    # A SIGTERM (meson's timeout) still takes everything down below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        # Each engine is brought up on a thread of its own: a dockerd takes
        # 2 to 17 s to answer, and most of it is waiting.
        for name, kind in want:
            engines.append(HungEngine(name) if kind == "hung"
                           else Engine(name, kind == "tls"))
        errors = []

        def bring_up(e, kind):
            try:
                t0 = time.time()
                e.up()
                if kind in ("plain", "tls"):
                    e.load_image(image)
                    what = f"with {image}"
                elif kind == "bare":
                    what = "with no image"
                else:
                    what = "(hung: accepts, never answers)"
                print(f"engines: {e.name} up on {e.url}"
                      f"{' (TLS)' if kind == 'tls' else ''} {what} in "
                      f"{time.time() - t0:.1f} s", file=sys.stderr)
            except Exception as ex:
                errors.append(f"{e.name}: {type(ex).__name__}: {ex}"
                              if not isinstance(ex, RuntimeError)
                              else str(ex))

        threads = [threading.Thread(target=bring_up, args=(e, kind),
                                    daemon=True)
                   for e, (_, kind) in zip(engines, want)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError("\n".join(errors))
        for e in engines:
            key = "ALIA_TEST_ENGINE_" + e.name.upper()
            env[key + "_HOST"] = e.url
            if e.tls:
                env[key + "_CERT_PATH"] = e.cert_path
                env[key + "_UNTRUSTED_CERT_PATH"] = e.untrusted_cert_path
        ctl = Control(engines)
        env["ALIA_TEST_ENGINES_CONTROL"] = ctl.path
        return subprocess.run(cmd, env=env).returncode
    except RuntimeError as ex:
        print(f"engines: {ex}", file=sys.stderr)
        return 1
    finally:
        if ctl is not None:
            ctl.close()
        for e in engines:
            e.down()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
