#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Two instances on one host never touch each other's sessions: run under
with-server.sh with ALIA_NODE=default, so that this server (A) has the
default node, the host name.

A learner's shell runs on A with a variable set. A second alia (B) is
started with a data_dir of its own and the same default node, and
stopped again. A's shell must still answer with the variable, its
container must still run, and B's log must not have removed any
container. Each data_dir holds its own instance id."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import aliatest
from aliatest import WS, Agent, ok


def container_running(sid):
    r = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}",
                        f"alia-{sid}"], capture_output=True, text=True)
    return r.stdout.strip() == "true"


def main_part():
    ok("ALIA_NODE" not in os.environ, "A runs with the default node")
    a = Agent()
    sid = a.create()
    ws = WS(a, sid, "control")
    ok(ws.read_until(rb"\$ ", 20) is not None, "A's shell has a prompt")
    ws.type("X=still-$((40+2))-here\r")
    ws.read_until(rb"\$ ", 5)

    bdir = tempfile.mkdtemp(prefix="alia-b.")
    os.chmod(bdir, 0o755)
    port = aliatest.free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("ALIA_NODE", "ALIA_DATA_DIR", "ALIA_LISTEN")}
    env.update(ALIA_DATA_DIR=bdir, ALIA_LISTEN=f"127.0.0.1:{port}")
    log = open(os.path.join(bdir, "serve.log"), "w")
    b = subprocess.Popen([aliatest.ALIA, "serve", "-d"], env=env,
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        up = aliatest.healthy(f"http://127.0.0.1:{port}", 90)
        ok(up, "a second alia (B) with its own data_dir starts")
        inst_a = open(os.path.join(os.environ["ALIA_DATA_DIR"],
                                   "instance")).read().strip()
        inst_b = open(os.path.join(bdir, "instance")).read().strip()
        ok(len(inst_a) == 32 and len(inst_b) == 32 and inst_a != inst_b,
           f"each data_dir has its own instance id: {inst_a} {inst_b}")
        time.sleep(1)  # B's reconcile is done by now
    finally:
        b.send_signal(signal.SIGTERM)
        try:
            b.wait(30)
        except subprocess.TimeoutExpired:
            b.kill()
            b.wait()
        log.close()
    blog = open(os.path.join(bdir, "serve.log")).read()
    shutil.rmtree(bdir, ignore_errors=True)
    if not up:
        print("# B's log:\n" + "\n".join("#   " + l for l in
                                          blog.splitlines()[-30:]))
    ok("removing container" not in blog,
       "B removed no container at start: "
       + "; ".join(l for l in blog.splitlines() if "removing" in l)[:300])
    ok(b.returncode == 0, f"B stopped cleanly ({b.returncode})")

    ok(container_running(sid), "A's container still runs")
    ws.type("echo X=$X\r")
    out = ws.read_until(rb"X=still-42-here", 10)
    ok(out is not None, "A's shell still answers, the variable still set")
    ws.close()


if __name__ == "__main__":
    aliatest.run(main_part)
