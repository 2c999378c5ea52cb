#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""alia on a Docker engine that is not this host's: run under
with-server.sh with DOCKER_HOST=tcp://... (and DOCKER_TLS_VERIFY=1,
DOCKER_CERT_PATH for TLS), the engine one that engines.py started in a
network namespace. The argument says what must hold:

works: a session's shell answers and is recorded; its container runs on
  that engine, hardened as on the local one, and not on the local
  engine; the warm pool's containers are there too.
tls: the same over TLS: alia verifies the engine's certificate, and
  master relays each attach stream between the engine's TLS connection
  and a socketpair whose other end the worker holds (workers hold no
  TLS, and this kernel has no kernel TLS to hand over); 2 MB of output
  go through that relay whole.
untrusted: alia's CA did not sign the engine's certificate: nothing is
  made there, and creating a session is refused (503) with the reason."""
import json
import os
import subprocess
import sys

import aliatest
from aliatest import WS, Agent, ok, psql_until

LOCAL = "unix:///var/run/docker.sock"


def docker(*args, host=None):
    """The docker CLI on the engine under test (its environment), or on
    host."""
    env = dict(os.environ)
    if host is not None:
        env["DOCKER_HOST"] = host
        env.pop("DOCKER_TLS_VERIFY", None)
        env.pop("DOCKER_CERT_PATH", None)
    return subprocess.run(["docker", *args], env=env, capture_output=True,
                          text=True, timeout=30)


def main_part():
    expect = sys.argv[1]
    url = os.environ["DOCKER_HOST"]
    tls = os.environ.get("DOCKER_TLS_VERIFY") == "1"
    ok(url.startswith("tcp://10.251."),
       f"the engine is one in a namespace of the test's: {url}"
       f"{' over TLS' if tls else ''}")
    a = Agent()
    if expect == "untrusted":
        untrusted(a)
        return
    sid = a.create()
    ws = WS(a, sid, "control")
    ok(ws.read_until(rb"\$ ", 20) is not None, "the shell has a prompt")
    ws.type("echo remote-$((6*7))\r")
    ok(ws.read_until(rb"remote-42", 10) is not None,
       "the shell answers over the engine's attach stream")
    ws.close()

    r = docker("inspect", f"alia-{sid}")
    ok(r.returncode == 0, f"the container alia-{sid} is on {url}")
    if r.returncode == 0:
        c = json.loads(r.stdout)[0]
        hc = c["HostConfig"]
        ok(hc.get("CapDrop") == ["ALL"]
           and "no-new-privileges" in (hc.get("SecurityOpt") or [])
           and hc.get("NetworkMode") == "none"
           and hc.get("ReadonlyRootfs") is True
           and (hc.get("PidsLimit") or 0) > 0
           and (hc.get("Memory") or 0) > 0
           and (hc.get("NanoCpus") or 0) > 0,
           "hardened as on the local engine: no capabilities, "
           "no-new-privileges, no network, read-only root, pids, memory "
           "and CPU limits")
        ok(c["Config"].get("User") not in ("", "0", "root"),
           f"not root: {c['Config'].get('User')!r}")
    r = docker("inspect", f"alia-{sid}", host=LOCAL)
    ok(r.returncode != 0, "and not on the local engine")
    r = docker("ps", "-q", "--filter", "label=io.alia.pool")
    pooled = r.stdout.split()
    ok(r.returncode == 0 and len(pooled) >= 1,
       f"the warm pool's containers are on the engine too ({len(pooled)})")

    got = psql_until(
        f"select count(*) > 0 from alia.events where session_id = '{sid}' "
        f"and kind = 'o' and position('remote-42' in "
        f"convert_from(data, 'UTF8')) > 0", "t", limit=20)
    ok(got == "t", "the output is recorded in alia.events")
    if expect == "tls":
        over_tls_bulk(a, a.create())


def server_log():
    with open(os.environ["ALIA_SERVER_LOG"]) as f:
        return f.read()


def over_tls_bulk(a, sid):
    """Over TLS master relays the attach stream (workers hold no TLS):
    bulk output goes through the relay's bound whole and in order."""
    ws = WS(a, sid, "control")
    ok(ws.read_until(rb"\$ ", 20) is not None, "a new shell has a prompt")
    ws.type("seq 1 300000 | md5sum; seq 300000 | tail -1\r")
    ok(ws.read_until(rb"\n300000", 60) is not None,
       "2 MB of output came through the relay to the browser")
    ws.close()
    want = subprocess.run("seq 1 300000 | md5sum", shell=True,
                          capture_output=True, text=True).stdout.split()[0]
    got = psql_until(
        f"select position('{want}' in alia.transcript('{sid}')) > 0",
        "t", limit=20)
    ok(got == "t", "what the shell printed is recorded")
    ok("certificate" not in server_log(), "no certificate error: alia "
       "verified the engine with its CA")


def untrusted(a):
    st, body = a.request("POST", "/api/sessions")
    ok(st == 503, f"creating a session is refused ({st}): {body[:200]!r}")
    log = server_log()
    ok("certificate verify failed" in log,
       "the log says the engine's certificate is not trusted")
    os.environ["DOCKER_CERT_PATH"] = os.environ["ALIA_TEST_ENGINE_E2_CERT_PATH"]
    r = docker("ps", "-aq")
    ok(r.returncode == 0 and r.stdout.split() == [],
       "nothing was made on the engine")


if __name__ == "__main__":
    aliatest.run(main_part)
