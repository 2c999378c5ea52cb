#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Environments and lessons (issue 13), under with-server.sh with
ALIA_AUTH=password, ALIA_ENVIRONMENTS=debian=...,busybox=...,
ALIA_LESSONS_DIR=DIR (emptied and filled here: the repository's lessons
and two of the test's own; alia reads a lesson when asked) and
ALIA_CHECK_TIMEOUT=3.

- GET /api/environments lists both; an unknown environment is a 400.
- A Debian session: /etc/debian_version 12.x, python3, man ls; its
  container keeps every hardening (user 1000, no capabilities, read-only
  root, no network, no-new-privileges, memory, cpu and pids limits).
- Lesson first-steps: step 1's check fails, the learner types the
  snippet over the websocket, it passes and the learner is on step 2;
  each check is an 'm' marker and a row in alia.lesson_progress, and
  alia.lesson_status says step 2.
- Who may check: the owner, their group's instructor and an admin; not
  another learner nor another group's instructor (403).
- A check runs in the learner's container as uid 1000, not on the host;
  a check that loops forever stops at check_timeout, passed false.
- Refusals: unknown lesson, bad step, a session without a lesson.
"""
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import aliatest
from aliatest import Term, cli, ok, psql, psql_until

PW = {"lea": "lea-Lesson-51c0a", "bob": "bob-Lesson-a7e31",
      "ian": "ian-Lesson-3d9b2", "ivy": "ivy-Lesson-88f04",
      "ada": "ada-Lesson-07c6e"}
LESSONS = os.environ["ALIA_LESSONS_DIR"]
SRC = os.environ["ALIA_SRCDIR"]
TIMEOUT = int(os.environ.get("ALIA_CHECK_TIMEOUT", "3"))

PROBE = """---
title: Probe
environment: busybox
description: where a check runs
---
## Loop
```check
while :; do :; done
```
## Who
```check
echo "uid=$(id -u) host=$(hostname) home=$HOME"; test -f ~/here-{tag}
```
## Host
```check
test -e {hostfile}
```
## No check
Nothing to check here.
## Flood
```check
head -c 3000000 /dev/zero | tr '\\0' y; exit 3
```
## Bytes
```check
printf 'caf\\303\\251 \\377 ok'
```
"""


def fill_lessons(tag, hostfile):
    os.makedirs(LESSONS, exist_ok=True)
    for f in os.listdir(LESSONS):
        os.unlink(os.path.join(LESSONS, f))
    for f in os.listdir(os.path.join(SRC, "lessons")):
        if f.endswith(".md"):
            shutil.copy(os.path.join(SRC, "lessons", f), LESSONS)
    with open(os.path.join(LESSONS, "probe.md"), "w") as f:
        f.write(PROBE.format(tag=tag, hostfile=hostfile))
    # one byte past the bound: never listed, never served
    with open(os.path.join(LESSONS, "huge.md"), "w") as f:
        f.write("## a\n" + "x" * (256 * 1024 - 5 + 1))


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True,
                          timeout=60).stdout.strip()


def api(agent, method, path, body=None):
    st, resp = agent.request(method, path,
                             json.dumps(body) if body is not None else None)
    try:
        return st, json.loads(resp) if resp else None
    except ValueError:
        return st, resp


def setup():
    cli("group", "add", "g1")
    cli("group", "add", "g2")
    for name, role, group in (("lea", "learner", "g1"),
                              ("bob", "learner", "g1"),
                              ("ian", "instructor", "g1"),
                              ("ivy", "instructor", "g2")):
        cli("user", "add", name, "--role", role, "--group", group,
            stdin=PW[name] + "\n")
    cli("user", "add", "ada", "--role", "admin", stdin=PW["ada"] + "\n")
    return aliatest.sign_in_all(PW)


def environments(lea):
    print("# environments")
    st, envs = api(lea, "GET", "/api/environments")
    ok(st == 200 and [e["name"] for e in envs] == ["debian", "busybox"]
       and envs[0]["default"] is True and envs[1]["default"] is False
       and envs[0]["image"] == "alia-sandbox:debian"
       and all(e["description"] for e in envs),
       f"GET /api/environments lists debian (default) and busybox: {envs}")
    inst = open(os.path.join(os.environ["ALIA_DATA_DIR"],
                             "instance")).read().strip()
    end, images = time.time() + 60, []
    while time.time() < end:
        images = sorted(docker(
            "ps", "--filter", f"label=io.alia.instance={inst}",
            "--filter", "label=io.alia.pool", "--format",
            "{{.Image}}").split())
        if images == ["alia-sandbox:debian", "alia-sandbox:latest"]:
            break
        time.sleep(0.5)
    ok(images == ["alia-sandbox:debian", "alia-sandbox:latest"],
       f"the warm pool (pool = 1) holds one of each environment: {images}")
    st, err = api(lea, "POST", "/api/sessions", {"environment": "plan9"})
    ok(st == 400 and "no such environment: plan9" in err["error"],
       f"an unknown environment is a 400: {st} {err}")
    st, err = api(lea, "POST", "/api/sessions", {"environment": 7})
    ok(st == 400, f"an environment that is not a string is a 400: {st}")
    st, err = api(lea, "POST", "/api/sessions", {"lesson": "no-such"})
    ok(st == 400 and "no such lesson: no-such" in err["error"],
       f"an unknown lesson is a 400: {st} {err}")
    st, err = api(lea, "POST", "/api/sessions",
                  {"lesson": "first-steps", "environment": "busybox"})
    ok(st == 400 and "runs in environment debian" in err["error"],
       f"a lesson in another environment than its own is a 400: {err}")


def debian(lea):
    print("# a Debian session, hardened as ever")
    st, s = api(lea, "POST", "/api/sessions", {"environment": "debian"})
    ok(st == 201 and s["environment"] == "debian"
       and s["image"] == "alia-sandbox:debian" and s["lesson"] is None,
       f"a Debian session is made: {st} {s}")
    t = Term(lea, s["id"], "control")
    ok(t.wait_out(b"$ ", 30), "it has a prompt")
    ok(t.run("cat /etc/debian_version", b"\r12."),
       f"/etc/debian_version is 12.x: {t.out[-80:]!r}")
    ok(t.run("python3 -c 'print(6*7)'", b"\r42\r\n"),
       f"python3 prints 42: {t.out[-80:]!r}")
    ok(t.run("man ls | head -5", b"LS(1)"),
       f"man ls shows the manual: {t.out[-200:]!r}")
    ok(t.run("echo shell=$0 uid=$(id -u)", b"uid=1000")
       and b"shell=/bin/bash" in t.out,
       f"a login bash as uid 1000: {t.out[-120:]!r}")
    name = f"alia-{s['id']}"
    r = docker("inspect", "-f",
                     "{{.Config.User}}|{{.HostConfig.CapDrop}}|"
                     "{{.HostConfig.ReadonlyRootfs}}|"
                     "{{.HostConfig.NetworkMode}}|"
                     "{{.HostConfig.SecurityOpt}}|{{.HostConfig.Memory}}|"
                     "{{.HostConfig.NanoCpus}}|{{.HostConfig.PidsLimit}}",
                     name)
    user, caps, ro, net, sec, mem, cpus, pids = r.split("|")
    ok(user == "1000:1000" and caps == "[ALL]" and ro == "true"
       and net == "none" and "no-new-privileges" in sec
       and int(mem) > 0 and int(cpus) > 0 and int(pids) > 0,
       f"the container keeps every hardening: {r}")
    t.ws.close()
    api(lea, "DELETE", f"/api/sessions/{s['id']}")


def check(agent, sid, step):
    t0 = time.time()
    st, r = api(agent, "POST", f"/api/sessions/{sid}/check", {"step": step})
    return st, r, time.time() - t0


def first_steps(a):
    print("# lesson first-steps, step 1")
    lea = a["lea"]
    st, s = api(lea, "POST", "/api/sessions", {"lesson": "first-steps"})
    ok(st == 201 and s["lesson"] == "first-steps"
       and s["environment"] == "debian" and s["step"] == 1
       and s["steps"] >= 5 and s["lesson_title"],
       f"a session of the lesson, in Debian, on step 1: {st} {s}")
    sid = s["id"]
    t = Term(lea, sid, "control")
    ok(t.wait_out(b"$ ", 30), "it has a prompt")
    st, r, _ = check(lea, sid, 1)
    ok(st == 200 and r["passed"] is False and r["exit_code"] == 2
       and r["timed_out"] is False,
       f"before the file, step 1's check fails: {st} {r}")
    ok(t.run("printf 'hello\\n' > ~/hello.txt; echo done-$((40+2))",
             b"done-42"), "the learner makes ~/hello.txt over the websocket")
    st, r, _ = check(lea, sid, 1)
    ok(st == 200 and r["passed"] is True and r["exit_code"] == 0,
       f"after, it passes: {st} {r}")
    st, s = api(lea, "GET", f"/api/sessions/{sid}")
    ok(s["step"] == 2 and s["failed_checks"] == 0
       and s["last_check"]["step"] == 1 and s["last_check"]["passed"],
       f"the learner is on step 2: {s}")
    st, r, _ = check(lea, sid, 2)
    ok(st == 200 and r["passed"] is False, "step 2's check fails first")
    st, s = api(lea, "GET", f"/api/sessions/{sid}")
    ok(s["step"] == 2 and s["failed_checks"] == 1,
       f"one failed check on step 2: {s['failed_checks']}")
    rows = psql_until(
        f"SELECT string_agg(step || ':' || passed || ':' || checked_by, ' '"
        f" ORDER BY id) FROM alia.lesson_progress WHERE session_id = '{sid}'",
        "1:false:lea 1:true:lea 2:false:lea")
    ok(rows == "1:false:lea 1:true:lea 2:false:lea",
       f"a row in alia.lesson_progress per check: {rows}")
    marks = psql_until(
        "SELECT string_agg(convert_from(data, 'UTF8'), '|' ORDER BY seq) "
        f"FROM alia.events WHERE session_id = '{sid}' AND kind = 'm' "
        "AND convert_from(data, 'UTF8') LIKE 'check %'",
        "check first-steps step 1 failed (exit 2) by lea|"
        "check first-steps step 1 passed by lea|"
        "check first-steps step 2 failed (exit 1) by lea")
    ok(marks == "check first-steps step 1 failed (exit 2) by lea|"
       "check first-steps step 1 passed by lea|"
       "check first-steps step 2 failed (exit 1) by lea",
       f"an 'm' marker in the recording per check: {marks}")
    status = psql(f"SELECT step || ':' || failed_checks FROM "
                  f"alia.lesson_status WHERE session_id = '{sid}'")
    ok(status == "2:1", f"alia.lesson_status: step 2, 1 failed: {status}")
    return sid, t


def who_may_check(a, sid):
    print("# who may check a session")
    for name, want in (("ian", 200), ("ada", 200), ("bob", 403),
                       ("ivy", 403)):
        st, r, _ = check(a[name], sid, 1)
        ok(st == want, f"{name} checking lea's session: {st} (want {want})"
           f" {r}")
    rows = psql(f"SELECT string_agg(checked_by, ' ' ORDER BY id) FROM "
                f"alia.lesson_progress WHERE session_id = '{sid}' "
                "AND checked_by <> 'lea'")
    ok(rows == "ian ada", f"the refused checks never ran: {rows}")
    st, r, _ = check(a["lea"], "0123456789abcdef0123456789abcdef", 1)
    ok(st == 404, f"an id that is no session: {st}")
    st, r, _ = check(a["lea"], "01234567-89ab-cdef-0123-456789abcdef", 1)
    ok(st == 404, f"an unknown session: {st}")
    for body in ({"step": 0}, {"step": 99}, {"step": "1"}, {}, []):
        st, r = api(a["lea"], "POST", f"/api/sessions/{sid}/check", body)
        ok(st == 400, f"check body {body}: {st} {r}")
    st, r, _ = check(a["lea"], sid, 64)
    ok(st == 400 and "has no step 64" in r["error"],
       f"a step the lesson lacks: {st} {r}")


def restart(a, sid):
    print("# progress outlives a restart (SIGUSR2: sessions live on)")
    lea = a["lea"]
    os.kill(aliatest.SERVER, signal.SIGUSR2)
    time.sleep(1)
    end, s = time.time() + 60, None
    while time.time() < end:
        try:
            st, s = api(lea, "GET", f"/api/sessions/{sid}")
            if st == 200 and s["state"] == "running":
                break
        except OSError:
            pass
        time.sleep(0.3)
    ok(s is not None and s.get("state") == "running"
       and s["lesson"] == "first-steps" and s["environment"] == "debian"
       and s["steps"] == 7 and s["step"] == 2 and s["failed_checks"] == 1
       and s["lesson_title"] == "First steps in the shell",
       f"after the restart, the session is on step 2 still: {s}")
    st, r, _ = check(lea, sid, 2)
    ok(st == 200 and r["passed"] is False,
       f"a check runs in the adopted session's container: {st} {r}")
    st, s = api(lea, "GET", f"/api/sessions/{sid}")
    ok(s["failed_checks"] == 2, f"two failed on step 2: {s['failed_checks']}")

    print("# a step passed out of order counts once the ones before pass")
    t = Term(lea, sid, "control")
    ok(t.run("mkdir ~/projects; echo made-$((2+3))", b"made-5"),
       "the learner does step 3 first")
    st, r, _ = check(lea, sid, 3)
    st, s = api(lea, "GET", f"/api/sessions/{sid}")
    ok(r["passed"] is True and s["step"] == 2,
       f"step 3 passes, the learner is still on step 2: {s['step']}")
    ok(t.run("echo world >> ~/hello.txt; echo made-$((3+3))", b"made-6"),
       "then step 2")
    st, r, _ = check(lea, sid, 2)
    st, s = api(lea, "GET", f"/api/sessions/{sid}")
    ok(r["passed"] is True and s["step"] == 4 and s["failed_checks"] == 0,
       f"step 2 passes: on to step 4, past the passed step 3: {s['step']}")
    status = psql(f"SELECT step FROM alia.lesson_status "
                  f"WHERE session_id = '{sid}'")
    ok(status == "4", f"alia.lesson_status agrees: {status}")
    t.ws.close()


def probe(a):
    print("# where a check runs, and its timeout")
    lea = a["lea"]
    st, s = api(lea, "POST", "/api/sessions", {"lesson": "probe"})
    ok(st == 201 and s["environment"] == "busybox" and s["steps"] == 6,
       f"the probe lesson runs in busybox: {st} {s}")
    sid = s["id"]
    t = Term(lea, sid, "control")
    ok(t.wait_out(b"$ ", 30), "it has a prompt")
    got = {}
    looping = threading.Thread(
        target=lambda: got.update(r=check(lea, sid, 1)))
    looping.start()
    time.sleep(1)
    st, r, _ = check(lea, sid, 2)
    ok(st == 429 and "one at a time" in r["error"],
       f"a second check while one runs: {st} {r}")
    looping.join()
    st, r, took = got["r"]
    ok(st == 200 and r["passed"] is False and r["timed_out"] is True
       and TIMEOUT - 0.5 <= took <= TIMEOUT + 3,
       f"a check that loops is stopped at {TIMEOUT} s: {took:.1f} s {r}")
    ps = docker("top", f"alia-{sid}", "-o", "pid,args")
    ok("while" not in ps and "timeout" not in ps,
       f"nothing of it is left in the container: {ps!r}")
    ok(t.run(f"touch ~/here-{TAG}; echo made-$((1+1))", b"made-2"),
       "the learner marks their home")
    st, r, _ = check(lea, sid, 2)
    ok(st == 200 and r["passed"] is True
       and "uid=1000 host=alia home=/home/learner" in r["output"],
       f"the check runs in the learner's container as uid 1000: {r}")
    st, r, _ = check(lea, sid, 3)
    ok(st == 200 and r["passed"] is False and os.path.exists(HOSTFILE),
       f"a file of the host is not there for the check: {r}")
    st, r, _ = check(lea, sid, 4)
    ok(st == 200 and r["passed"] is True and r["exit_code"] == 0,
       f"a step without a check is done when asked: {st} {r}")
    marks = psql_until(
        "SELECT convert_from(data, 'UTF8') FROM alia.events WHERE "
        f"session_id = '{sid}' AND kind = 'm' AND "
        "convert_from(data, 'UTF8') LIKE 'check probe step 4%'",
        "check probe step 4 done (no check) by lea")
    ok(marks == "check probe step 4 done (no check) by lea",
       f"and says so in the recording: {marks}")
    st, r, _ = check(lea, sid, 5)
    ok(st == 200 and r["passed"] is False and r["exit_code"] == 3
       and r["output"] == "y" * 4096,
       f"3 MB of output: the first 4 KiB kept: {st} "
       f"{len(r['output']) if r else None} chars, exit {r and r['exit_code']}")
    st, r, _ = check(lea, sid, 6)
    ok(st == 200 and r["passed"] is True
       and r["output"] == "caf\u00e9 \ufffd ok",
       f"output that is not UTF-8 comes as UTF-8: {r}")
    st, m = a["ada"].request("GET", "/metrics")
    m = dict(l.split(" ", 1) for l in m.decode().splitlines()
             if l.startswith("alia_lesson_checks"))
    ok(st == 200 and int(m["alia_lesson_checks_timed_out_total"]) == 1
       and int(m["alia_lesson_checks_total"])
       >= int(m["alia_lesson_checks_passed_total"]) + 1
       and m["alia_lesson_checks_running"] == "0",
       f"/metrics counts the checks: {m}")
    st, s2 = api(lea, "POST", "/api/sessions", {"environment": "busybox"})
    st, r, _ = check(lea, s2["id"], 1)
    ok(st == 400 and "no lesson" in r["error"],
       f"a session without a lesson: {st} {r}")
    api(lea, "DELETE", f"/api/sessions/{s2['id']}")
    api(lea, "DELETE", f"/api/sessions/{sid}")
    time.sleep(1)
    st, r, _ = check(lea, sid, 2)
    ok(st == 409 and "ended" in r["error"], f"an ended session: {st} {r}")


def lessons_api(lea):
    print("# the lessons API")
    st, ls = api(lea, "GET", "/api/lessons")
    names = [x["name"] for x in ls]
    ok(st == 200 and "first-steps" in names and "probe" in names
       and "huge" not in names and names == sorted(names)
       and all(x["steps"] > 0 and x["title"] for x in ls),
       f"GET /api/lessons: {names}")
    st, l = api(lea, "GET", "/api/lessons/first-steps")
    ok(st == 200 and l["steps"][0]["n"] == 1 and l["steps"][0]["check"]
       and "printf 'hello\\n' > ~/hello.txt" in l["steps"][0]["markdown"]
       and "grep -qx" not in json.dumps(l),
       "GET /api/lessons/first-steps: steps, checks taken out")
    st, r = api(lea, "GET", "/api/lessons/huge")
    ok(st == 500 and "longer than 262144 bytes" in r["error"],
       f"a lesson past 256 KiB is refused with the reason: {st} {r}")
    for bad in ("nope", "..%2fetc%2fpasswd", "UPPER", "first-steps.md"):
        st, _ = api(lea, "GET", f"/api/lessons/{bad}")
        ok(st in (400, 404), f"GET /api/lessons/{bad}: {st}")


TAG = f"t{os.getpid()}"
HOSTFILE = f"/tmp/alia-lesson-host-{TAG}"


def main():
    with open(HOSTFILE, "w") as f:
        f.write("on the host only\n")
    try:
        fill_lessons(TAG, HOSTFILE)
        a = setup()
        environments(a["lea"])
        lessons_api(a["lea"])
        debian(a["lea"])
        sid, t = first_steps(a)
        who_may_check(a, sid)
        t.ws.close()
        restart(a, sid)
        probe(a)
    finally:
        os.unlink(HOSTFILE)


if __name__ == "__main__":
    aliatest.run(main)
