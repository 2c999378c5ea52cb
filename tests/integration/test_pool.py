#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The warm pool: run under with-server.sh with auth = password, pool = 2
and a learner's limits of their own (memory, cpus, pids).

A learner's session comes from the pool: its container was one of the
pool's, was in no earlier session, runs with the learner's limits (docker
inspect), and its first output event holds the prompt the pool's shell
printed. A file written in that session is absent from the next one,
whose container is another fresh one of the pool. The pool is back to two
after each take, and /metrics counts the takes. A SIGHUP makes the pool
again (its workers were configured under the old configuration). A
second alia with pool = 0 makes no pool container and still gives a
shell; a third with pool = 2 removes its pool containers
when it stops (SIGTERM, live_restore on). A fourth, whose image is
built again under the same name, makes its pool again of the new image."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import aliatest
from aliatest import WS, ok, cli, login, psql

PASSWORD = "pool-test-password-1"
NODE = os.environ["ALIA_NODE"]
LIMITS = {"Memory": 64 << 20, "NanoCpus": 250000000, "PidsLimit": 64}


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True,
                          text=True).stdout.strip()


def pool_ids(node, running=True):
    """The full ids of node's pool containers that no session of this
    server took (a taken one's session label names a row)."""
    out = docker("ps", "--no-trunc", *([] if running else ["-a"]),
                 "--filter", f"label=io.alia.owner={node}",
                 "--filter", "label=io.alia.pool",
                 "--format", '{{.ID}} {{.Label "io.alia.session"}}')
    rows = set(psql("select id from alia.sessions").split())
    return {l.split()[0] for l in out.splitlines()
            if l.split()[1] not in rows}


def pool_until(node, n, limit=60):
    """node's running pool containers once there are n, or the last seen."""
    end = time.time() + limit
    ids = pool_ids(node)
    while time.time() < end and len(ids) != n:
        time.sleep(0.3)
        ids = pool_ids(node)
    return ids


def inspect(name):
    out = json.loads(docker("inspect", name) or "[]")
    return out[0] if out else None


def workers_of(master):
    """{pid: real uid} of master's worker processes."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                st = dict(l.split(":", 1) for l in f.read().splitlines()
                          if ":" in l)
        except OSError:
            continue
        if (st.get("Name", "").strip() == "alia-worker" and
                int(st.get("PPid", "0")) == master):
            found[int(pid)] = int(st["Uid"].split()[0])
    return found


def shell(agent, sid):
    ws = WS(agent, sid, "control")
    ok(ws.read_until(rb"\$ ", 20) is not None, f"session {sid[:8]}: a prompt")
    return ws


def metrics():
    """The pool's lines of /metrics, as {name: value}, read by an admin."""
    a, st, _ = login("ada", PASSWORD)
    st, body = a.request("GET", "/metrics")
    ok(st == 200, f"an admin reads /metrics ({st})")
    return {l.split()[0]: int(l.split()[1])
            for l in body.decode().splitlines()
            if l.startswith("alia_pool_") or
            l.startswith("alia_sessions_created_total")}


def setup():
    cli("user", "add", "lena", "--role", "learner",
        stdin=PASSWORD + "\n")
    cli("user", "add", "ada", "--role", "admin", stdin=PASSWORD + "\n")


def from_pool():
    print("# a session takes a fresh container of the pool")
    before = pool_until(NODE, 2)
    ok(len(before) == 2, f"the pool holds 2 started containers ({len(before)})")
    spare = workers_of(int(os.environ["ALIA_SERVER_PID"]))
    ok(len(spare) >= 2 and all(uid != 0 for uid in spare.values()),
       f"the workers forked ahead for the pool run unprivileged: {spare}")
    a, st, _ = login("lena", PASSWORD)
    ok(st == 200, f"the learner signs in ({st})")
    sid = a.create()
    c = inspect(f"alia-{sid}")
    ok(c is not None and c["Id"] in before and
       c["Config"]["Labels"].get("io.alia.session") == sid,
       "the session's container (alia-ID, labelled with it) was the pool's")
    earlier = psql("select coalesce(string_agg(container_id, ','), '') "
                   f"from alia.sessions where id <> '{sid}'")
    ok(c is not None and c["Id"] not in earlier.split(","),
       "no earlier session had that container")
    hc = c["HostConfig"] if c else {}
    for k, v in LIMITS.items():
        ok(hc.get(k) == v, f"the learner's {k}: {hc.get(k)} (want {v})")
    ok(hc.get("MemorySwap") == LIMITS["Memory"], "MemorySwap = Memory")
    ok(hc.get("NetworkMode") == "none" and hc.get("CapDrop") == ["ALL"] and
       "no-new-privileges" in (hc.get("SecurityOpt") or []) and
       hc.get("ReadonlyRootfs"), "hardened as a session's container")
    ws = shell(a, sid)
    ws.type("echo written-$((6*7)) > ~/mark; cat ~/mark\r")
    ok(ws.read_until(rb"written-42", 10) is not None, "a file written")
    ws.close()
    row = aliatest.psql_until(
        "select state || ' ' || (container_id = '" + (c["Id"] if c else "") +
        "') || ' ' || (started_at is not null) || ' ' || owner "
        f"from alia.sessions where id = '{sid}'", "running true true lena")
    ok(row == "running true true lena", f"the session's row: {row}")
    first = aliatest.psql_until(
        "select position('$ ' in convert_from(data, 'UTF8')) > 0 from "
        f"alia.events where session_id = '{sid}' and kind = 'o' "
        "order by seq limit 1", "t")
    ok(first == "t", "the first output event holds the pool's prompt")
    after = pool_until(NODE, 2)
    ok(len(after) == 2 and c is not None and c["Id"] not in after,
       f"the pool is back to 2 after the take ({len(after)})")

    a.request("DELETE", f"/api/sessions/{sid}")
    sid2 = a.create()
    c2 = inspect(f"alia-{sid2}")
    ok(c2 is not None and c2["Id"] in after and c2["Id"] != c["Id"],
       "the next session has another container of the pool")
    ws = shell(a, sid2)
    ws.type("cat ~/mark 2>&1 | head -c 40; echo; echo end-$((1+1))\r")
    out = ws.read_until(rb"end-2", 10) or b""
    ok(b"written-42" not in out, "the earlier session's file is absent")
    ws.close()
    a.request("DELETE", f"/api/sessions/{sid2}")
    gone = aliatest.psql_until(
        f"select count(*) from alia.sessions where id in ('{sid}', '{sid2}')"
        " and state = 'ended'", "2")
    ok(gone == "2", "both sessions ended")
    ok(inspect(c["Id"]) is None, "an ended session's container is removed, "
       "never back in the pool")
    ok(len(pool_until(NODE, 2)) == 2, "the pool is back to 2")
    m = metrics()
    made = m.get("alia_sessions_created_total", -1)
    ok(made == 2 and m.get("alia_pool_taken_total", 0) >= 1 and
       m.get("alia_pool_taken_total", 0) +
       m.get("alia_pool_missed_total", 0) == made,
       f"/metrics: every session taken from the pool or missed it: {m}")
    ok(m.get("alia_pool_containers") == 2 and
       0 <= m.get("alia_pool_ready", -1) <= 2,
       f"/metrics: the pool's containers and those ready: {m}")


def reload_pool():
    print("# SIGHUP: the pool (workers configured before) is made again")
    old = pool_until(NODE, 2)
    ok(len(old) == 2, f"the pool holds 2 ({len(old)})")
    os.kill(int(os.environ["ALIA_SERVER_PID"]), signal.SIGHUP)
    end = time.time() + 60
    new = set()
    while time.time() < end:
        new = pool_ids(NODE)
        if len(new) == 2 and not new & old:
            break
        time.sleep(0.3)
    ok(len(new) == 2 and not new & old,
       f"two new pool containers, none of before the reload ({len(new)})")
    gone = [i for i in old if inspect(i) is not None]
    ok(not gone, f"the old pool containers are removed: {gone}")
    a, st, _ = login("lena", PASSWORD)
    sid = a.create()
    ws = shell(a, sid)
    ws.close()
    a.request("DELETE", f"/api/sessions/{sid}")


class Other:
    """Another alia (anonymous auth) with a data_dir and node of its own."""

    def __init__(self, tag, pool, image=None):
        self.dir = tempfile.mkdtemp(prefix=f"alia-{tag}.")
        os.chmod(self.dir, 0o755)
        self.node = f"{NODE}-{tag}"
        self.port = aliatest.free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("ALIA_") or k == "ALIA_BIN"}
        env.update(ALIA_DATA_DIR=self.dir, ALIA_NODE=self.node,
                   ALIA_LISTEN=f"127.0.0.1:{self.port}", ALIA_POOL=str(pool))
        env["ALIA_ENVIRONMENTS"] = f"busybox={image or 'alia-sandbox:latest'}"
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        self.p = subprocess.Popen([aliatest.ALIA, "serve", "-d"], env=env,
                                  stdout=self.log, stderr=subprocess.STDOUT)
        self.up = aliatest.healthy(f"http://127.0.0.1:{self.port}", 90)
        ok(self.up, f"alia {tag} (pool = {pool}) starts")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()
        return self.p.returncode

    def cleanup(self):
        ids = docker("ps", "-aq", "--filter",
                     f"label=io.alia.owner={self.node}").split()
        if ids:
            docker("rm", "-f", *ids)
        shutil.rmtree(self.dir, ignore_errors=True)


def pool_off():
    print("# pool = 0: as before, no pool container")
    o = Other("off", 0)
    try:
        saved = aliatest.URL, aliatest.HOST, aliatest.PORT
        aliatest.URL = f"http://127.0.0.1:{o.port}"
        aliatest.HOST, aliatest.PORT = "127.0.0.1", o.port
        try:
            a = aliatest.Agent()
            sid = a.create()
            c = inspect(f"alia-{sid}")
            ok(c is not None and "io.alia.pool" not in c["Config"]["Labels"]
               and c["Config"]["Labels"].get("io.alia.session") == sid,
               "the session's container is its own, labelled with it")
            ws = shell(a, sid)
            ws.close()
            time.sleep(2)
            ok(len(pool_ids(o.node, running=False)) == 0,
               "no pool container at all")
        finally:
            aliatest.URL, aliatest.HOST, aliatest.PORT = saved
        ok(o.stop() == 0, "it stops cleanly")
    finally:
        o.cleanup()


def pool_stop():
    print("# a stop removes the pool's containers (live_restore on)")
    o = Other("stop", 2)
    try:
        ids = pool_until(o.node, 2)
        ok(len(ids) == 2, f"its pool fills to 2 ({len(ids)})")
        ok(o.stop() == 0, "it stops cleanly")
        left = docker("ps", "-aq", "--filter",
                      f"label=io.alia.owner={o.node}")
        ok(left == "", f"no pool container left after the stop: {left!r}")
    finally:
        o.cleanup()


def image_change():
    print("# a new image under the same name: the pool is made again")
    tag = f"alia-pooltest-{NODE}"
    subprocess.run(["docker", "tag", "alia-sandbox:latest", f"{tag}:latest"],
                   check=True)
    o = Other("image", 2, f"{tag}:latest")
    try:
        old = pool_until(o.node, 2)
        ok(len(old) == 2, f"its pool fills to 2 ({len(old)})")
        r = subprocess.run(["docker", "build", "-q", "-t", f"{tag}:latest",
                            "-"], input=b"FROM alia-sandbox:latest\n"
                           b"LABEL io.alia.test=" + tag.encode() + b"\n",
                           capture_output=True)
        ok(r.returncode == 0, f"the image is rebuilt: {r.stderr[-200:]!r}")
        want = docker("image", "inspect", "-f", "{{.Id}}", f"{tag}:latest")
        end = time.time() + 60
        new = set()
        while time.time() < end:
            new = pool_ids(o.node)
            if len(new) == 2 and all(
                    docker("inspect", "-f", "{{.Image}}", i) == want
                    for i in new):
                break
            time.sleep(0.5)
        ok(len(new) == 2 and not new & old,
           f"two new pool containers ({len(new)}), none of the old")
        ok(all(docker("inspect", "-f", "{{.Image}}", i) == want
               for i in new), "both of the new image")
        ok(o.stop() == 0, "it stops cleanly")
    finally:
        o.cleanup()
        docker("rmi", "-f", f"{tag}:latest")


if __name__ == "__main__":
    aliatest.run(setup, from_pool, reload_pool, pool_off, pool_stop, image_change)
