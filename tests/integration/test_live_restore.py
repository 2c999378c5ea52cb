#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Restarts keep sessions (live restore). The test runs its own server
(alia serve -d) on a data_dir of its own, from a copy of the binary.

A shell prints a numbered line every 100 ms, with a variable set. Then,
while it prints:
  1. master is killed with -9 and started again: a client reconnects to
     the same shell (the variable is still set) within 5 s of the start;
  2. SIGTERM: the browser gets close 1001; started again, the same;
  3. SIGUSR2 after the binary was replaced by a new file: /healthz, polled
     every 50 ms, is never refused; the browser gets close 1012 and
     reconnects to the same shell; master runs the new file.
The recording then holds every number once, in order: what the shell
printed while no alia was attached comes from Docker's log. Last, with
live_restore = 0, SIGTERM ends the session as before.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ALIA_BIN = os.environ["ALIA_BIN"]
BUILD = os.environ.get("ALIA_BUILDDIR", os.path.dirname(ALIA_BIN))
tmp = tempfile.mkdtemp(prefix="alia-live.")
os.chmod(tmp, 0o755)
data = os.path.join(tmp, "var")
binary = os.path.join(tmp, "alia")
# alia-worker goes beside alia, as the install puts it: master runs it.
ALIA_WORKER_BIN = os.environ["ALIA_WORKER_BIN"]
worker_binary = os.path.join(tmp, "alia-worker")
shutil.copy2(ALIA_BIN, binary)
shutil.copy2(ALIA_WORKER_BIN, worker_binary)
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
PORT = sock.getsockname()[1]
sock.close()
NODE = f"live-{os.getpid()}"
os.environ.update(ALIA_URL=f"http://127.0.0.1:{PORT}", ALIA_DATA_DIR=data,
                  ALIA_SERVER_PID="0", ALIA_BIN=binary)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aliatest  # noqa: E402  (reads the variables above)
from aliatest import WS, Agent, ok, psql  # noqa: E402

LOG = os.path.join(tmp, "serve.log")
server = None


def worker_inodes():
    """The inodes of the images the "alia: worker" processes run."""
    inos = set()
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if f.read().split(b"\0")[0] != b"alia: worker":
                    continue
            inos.add(os.stat(f"/proc/{d}/exe").st_ino)
        except OSError:
            pass
    return inos


def env(**extra):
    e = dict(os.environ)
    e.update(ALIA_DATA_DIR=data, ALIA_LISTEN=f"127.0.0.1:{PORT}",
             ALIA_NODE=NODE, ALIA_WEB_DIR=os.path.join(BUILD, "web"),
             ALIA_RECONNECT_GRACE="60")
    e.update(extra)
    return e


def healthy(seconds):
    end = time.time() + seconds
    while time.time() < end:
        try:
            s = socket.create_connection(("127.0.0.1", PORT), timeout=2)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            if s.recv(100).startswith(b"HTTP/1.1 200"):
                s.close()
                return True
            s.close()
        except OSError:
            pass
        time.sleep(0.05)
    return False


def start(conf=None, **extra):
    global server
    log = open(LOG, "a")
    args = [binary, "serve", "-d"] + (["-c", conf] if conf else [])
    server = subprocess.Popen(args, env=env(**extra),
                              stdout=log, stderr=subprocess.STDOUT)
    aliatest.SERVER = server.pid
    t0 = time.time()
    up = healthy(90)
    ok(up, f"alia (pid {server.pid}) serves after {time.time() - t0:.1f} s")
    return t0


def stop(sig=signal.SIGTERM):
    server.send_signal(sig)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    # kill -9 leaves the children to die by themselves
    for _ in range(100):
        if subprocess.run(["pgrep", "-f", tmp], capture_output=True).stdout \
                .strip() == b"":
            break
        time.sleep(0.1)


def reconnect(agent, sid, seconds=5):
    """A websocket to the session, tried until it comes; with the time."""
    t0 = time.time()
    while time.time() - t0 < seconds:
        try:
            ws = WS(agent, sid, "control")
            return ws, time.time() - t0
        except (OSError, RuntimeError):
            time.sleep(0.1)
    return None, time.time() - t0


def running(agent, sid):
    """Waits until master has seen the container start (a session still
    starting when alia stops is ended: it is not taken up)."""
    for _ in range(100):
        st, body = agent.request("GET", f"/api/sessions/{sid}")
        if st == 200 and b'"state":"running"' in body:
            return True
        time.sleep(0.1)
    return False


def back(agent, sid):
    """alia started again a second after it went: a websocket to the
    session within 5 s of the start, or None."""
    time.sleep(1)
    t0 = start()
    ws, took = reconnect(agent, sid)
    ok(ws is not None and time.time() - t0 < 5,
       f"reconnected {time.time() - t0:.1f} s after the start")
    return ws


def same_shell(ws, what):
    """The loop is still printing; the variable is still set."""
    out = ws.read_until(rb"n=\d+\r\n(?:.|\n)*n=\d+\r\n", 5)
    ok(out is not None, f"{what}: the numbered lines go on")
    ws.type("\x03")
    ws.read_until(rb"\$ $", 5)
    ws.type("echo X=$X\r")
    ok(ws.read_until(rb"X=keep-42", 5) is not None,
       f"{what}: the same shell: the variable is still set")
    ws.type("while :; do i=$((i+1)); echo n=$i; sleep 0.1; done\r")
    time.sleep(1)


def main_part():
    agent = Agent()
    start()
    sid = agent.create()
    ws = WS(agent, sid, "control")
    ok(ws.read_until(rb"\$ ", 20) is not None, "a prompt")
    ws.type("X=keep-$((6*7)); i=0\r")
    ws.type("while :; do i=$((i+1)); echo n=$i; sleep 0.1; done\r")
    ws.read_until(rb"n=20\r\n", 10)
    ok(running(agent, sid), "the session runs")

    print("# 1. kill -9 of master")
    stop(signal.SIGKILL)
    ws = back(agent, sid)
    if ws is None:
        return
    same_shell(ws, "after kill -9")

    print("# 2. SIGTERM, then start")
    server.send_signal(signal.SIGTERM)
    code = ws.close_code(10)
    ok(code == 1001, f"the browser gets close 1001 ({code})")
    stop()
    r = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}",
                        f"alia-{sid}"], capture_output=True, text=True)
    ok(r.stdout.strip() == "true", "the container runs on while alia is "
       "stopped")
    ws = back(agent, sid)
    if ws is None:
        return
    same_shell(ws, "after SIGTERM")

    print("# 3. SIGUSR2 with a new binary")
    shutil.copy2(ALIA_WORKER_BIN, worker_binary + ".new")
    os.rename(worker_binary + ".new", worker_binary)
    shutil.copy2(ALIA_BIN, binary + ".new")
    os.rename(binary + ".new", binary)
    new_ino = os.stat(binary).st_ino
    new_worker_ino = os.stat(worker_binary).st_ino
    refused, polls, stop_poll = [], [0], threading.Event()
    waits = []

    def poll():
        while not stop_poll.is_set():
            try:
                t = time.time()
                s = socket.create_connection(("127.0.0.1", PORT),
                                             timeout=20)
                s.settimeout(20)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n\r\n")
                s.recv(100)
                s.close()
                waits.append(time.time() - t)
            except ConnectionRefusedError as e:
                refused.append(e)
            except OSError:
                pass
            polls[0] += 1
            time.sleep(0.05)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    time.sleep(0.5)
    pid = server.pid
    server.send_signal(signal.SIGUSR2)
    code = ws.close_code(10)
    ok(code == 1012, f"the browser gets close 1012 ({code})")
    ws, took = reconnect(agent, sid, 30)
    ok(ws is not None, f"reconnected {took:.1f} s after the close")
    time.sleep(1)
    stop_poll.set()
    th.join()
    ok(not refused and polls[0] > 20,
       f"/healthz polled {polls[0]} times every 50 ms: "
       f"{len(refused)} refused; the longest answer took "
       f"{max(waits or [0]):.2f} s")
    exe_ino = os.stat(f"/proc/{pid}/exe").st_ino
    ok(exe_ino == new_ino and server.poll() is None,
       f"master (pid {pid}) runs the new binary (inode {exe_ino})")
    ok(new_worker_ino in worker_inodes(),
       "the session's new worker runs the new alia-worker")
    if ws is None:
        return
    same_shell(ws, "after SIGUSR2")

    print("# the recording")
    ws.type("\x03")
    ws.read_until(rb"\$ $", 5)
    ws.type("exit\r")
    for _ in range(100):
        if psql(f"select state from alia.sessions where id = '{sid}'") == \
                "ended":
            break
        time.sleep(0.2)
    time.sleep(2)
    text = psql(f"select alia.transcript('{sid}')")
    nums = [int(x) for x in re.findall(r"^n=(\d+)$", text, re.M)]
    want = list(range(1, len(nums) + 1))
    bad = [(i, a) for i, a in enumerate(nums) if a != i + 1][:5]
    ok(nums == want and len(nums) > 50,
       f"the recording holds n=1..{len(nums)} once each, in order "
       f"(first differences: {bad})")
    if nums != want:
        # Where each restart's marker fell, to tell which one lost or
        # doubled a line: the output around it, seqs inline.
        around = psql(f"select string_agg(case when kind = 'm' then "
                      f"'<' || seq || ' ' || convert_from(data, 'UTF8') "
                      f"|| '>' else '[' || seq || ']' || "
                      f"convert_from(data, 'UTF8') end, '' order by seq) "
                      f"from alia.events where session_id = '{sid}' "
                      f"and kind in ('o', 'm')")
        print("# the recording, seqs in [], markers in <>:")
        for line in around.splitlines():
            print(f"#   {line!r}")
    marks = psql(f"select string_agg(convert_from(data, 'UTF8'), ' | ' "
                 f"order by seq) from alia.events where session_id = "
                 f"'{sid}' and kind = 'm' and convert_from(data, 'UTF8') "
                 f"like 'alia restarted%'")
    print(f"# markers: {marks}")
    gaps = [l.split("] ", 1)[-1] for l in open(LOG)
            if "printed while alia was away" in l
            or "Docker's log" in l
            or "earlier postgres" in l or "without a word" in l]
    for g in gaps:
        print(f"# server: {g.strip()}")
    ok(sum("from Docker's log" in g for g in gaps) >= 3,
       "after each of the 3 restarts the worker took what the shell "
       "printed meanwhile from Docker's log")
    seqs = psql(f"select count(*) = max(seq) + 1 from alia.events "
                f"where session_id = '{sid}'")
    ok(seqs == "t", "seqs run from 0 with no gap")
    stop()

    print("# 4. live_restore = 0: a stop ends sessions")
    start(ALIA_LIVE_RESTORE="0")
    sid2 = agent.create()
    ws = WS(agent, sid2, "control")
    ws.read_until(rb"\$ ", 20)
    stop()
    row = psql(f"select state || '/' || end_reason from alia.sessions "
               f"where id = '{sid2}'")
    r = subprocess.run(["docker", "ps", "-aq", "--filter",
                        f"name=alia-{sid2}"], capture_output=True, text=True)
    ok(row == "ended/server stopped" and r.stdout.strip() == "",
       f"the session ended ({row}) and its container is gone")

    print("# 5. alia session kill --all, with alia gone for good")
    start()
    sid3 = agent.create()
    WS(agent, sid3, "control").read_until(rb"\$ ", 20)
    ok(running(agent, sid3), "the session runs")
    stop()
    r = subprocess.run([binary, "session", "kill", "--all"], env=env(),
                       capture_output=True, text=True, timeout=120)
    row = psql(f"select state || '/' || end_reason from alia.sessions "
               f"where id = '{sid3}'")
    run = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}",
                          f"alia-{sid3}"], capture_output=True, text=True)
    ok(r.returncode == 0 and row == "ended/killed"
       and run.stdout.strip() != "true",
       f"kill --all ended the session left running ({row}; "
       f"{r.stdout.strip()} {r.stderr.strip()})")

    print("# 6. SIGHUP reads the configuration again")
    conf = os.path.join(tmp, "alia.conf")
    with open(conf, "w") as f:
        f.write("max_sessions_per_user = 1\n")
    start(conf)
    a2 = Agent()
    first = a2.create()
    st, _ = a2.request("POST", "/api/sessions")
    ok(st == 429, f"max_sessions_per_user = 1: a second session gets {st}")
    with open(conf, "w") as f:
        f.write("max_sessions_per_user = 3\n"
                "docker = unix:///nonexistent/docker.sock\n")
    server.send_signal(signal.SIGHUP)
    time.sleep(2)
    healthy(10)
    st, _ = a2.request("POST", "/api/sessions")
    ok(st == 201, f"after SIGHUP with max_sessions_per_user = 3: {st}")
    said = [l for l in open(LOG) if "SIGHUP" in l]
    ok(any("docker" in l and "restart" in l for l in said),
       "the log names docker as a key that needs a restart: "
       + (said[-1].strip() if said else "no line"))
    stop()


def cleanup():
    if server is not None and server.poll() is None:
        server.kill()
        server.wait()
    subprocess.run(f"docker ps -aq --filter label=io.alia.owner={NODE} | "
                   "xargs -r docker rm -f", shell=True, capture_output=True)
    if aliatest.failures:
        sys.stdout.write("--- server log\n" + open(LOG).read())
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        aliatest.run(main_part)
    finally:
        cleanup()
