#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""alia's memory per idle session (not a test). Run against a fresh server
started with ALIA_POOL=0 and limits that let one identity hold them all;
script/bench does:

  PYTHONPATH=tests/integration ALIA_BIN=build/alia ALIA_POOL=0 \\
      ALIA_MAX_SESSIONS=120 ALIA_MAX_SESSIONS_PER_USER=120 \\
      tests/integration/with-server.sh /usr/bin/python3 bench/pss.py 10 100

For each count N given (ascending), one anonymous identity holds N
sessions: the missing ones are created WIDTH at a time. An idle session is
one whose browser has left: each is opened on its websocket, read up to
its first prompt, and closed, so its worker has set up a browser and let
it go, as when a learner closes the tab. Two seconds later it sums Pss
from /proc/PID/smaps_rollup of master and of each of its descendants that
run alia (not PostgreSQL), and prints a row per N: the workers counted,
the median worker's PSS, alia's total PSS by role, and that total divided
by N, against the goal of 512 KiB per session; on standard error, alia's
PSS by role and a worker's by mapping (the median of each of /proc/PID/smaps'
mappings over the workers: libraries by file name, [heap], [anon]...).
"""
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from aliatest import SERVER, WS, Agent

WIDTH = 8  # creations in flight, as bench/load.c
SETTLE_S = 2
GOAL_KIB = 512
TOP_MAPS = 12  # the mappings of a worker listed, largest first


def make_idle(agent):
    """One session whose browser saw the prompt and left; its id."""
    sid = agent.create()
    w = WS(agent, sid)
    if b"$ " not in w.read_until(rb"\$ ", 60):
        raise RuntimeError(f"session {sid}: no prompt within 60 s")
    w.send(8, b"\x03\xe9")  # 1001, going away: the tab was closed
    w.close()
    return sid


def descendants(pid):
    """pid's descendants, by pgrep -P, breadth first."""
    out, todo = [], [pid]
    while todo:
        r = subprocess.run(["pgrep", "-P", ",".join(map(str, todo))],
                           capture_output=True, text=True)
        todo = [int(p) for p in r.stdout.split()]
        out += todo
    return out


def role(pid):
    """'master', 'worker', ...: the role of an alia process, else None."""
    try:
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            title = f.read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return None
    if pid == SERVER:
        return "master"
    if title.startswith("alia: "):
        return title[6:].split()[0]
    if exe.startswith("alia-"):
        return exe[5:]
    return None


def pss_kib(pid):
    """The Pss line of pid's smaps_rollup, in KiB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def mapping_pss(pid):
    """KiB of Pss per mapping of pid: a file's base name, or [heap]..."""
    out, name = {}, None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                fields = line.split()
                if "-" in fields[0] and not fields[0].endswith(":"):
                    path = fields[5] if len(fields) > 5 else "[anon]"
                    name = os.path.basename(path) if path[0] == "/" else path
                elif fields[0] == "Pss:":
                    out[name] = out.get(name, 0) + int(fields[1])
    except OSError:
        pass
    return out


def measure():
    """KiB of PSS by role, the list of each worker's PSS, and the
    workers' median PSS per mapping."""
    by_role, workers, maps = {}, [], []
    for pid in [SERVER] + descendants(SERVER):
        r = role(pid)
        if r is None:
            continue
        kib = pss_kib(pid)
        by_role[r] = by_role.get(r, 0) + kib
        if r == "worker":
            workers.append(kib)
            maps.append(mapping_pss(pid))
    names = set().union(*maps) if maps else set()
    per_map = {k: statistics.median(m.get(k, 0) for m in maps)
               for k in names}
    return by_role, workers, per_map


def mib(kib):
    return f"{kib / 1024:.2f} MiB"


def main():
    counts = sorted(int(a) for a in sys.argv[1:]) or [10, 100]
    agent = Agent()
    ids = [make_idle(agent)]  # the identity's cookie, before the threads
    print("\nalia's memory per idle session: PSS (smaps_rollup) of alia's "
          "processes; idle: a browser opened the session, saw its prompt "
          "and left; pool = 0\n")
    print("| held | workers | median worker | the others (master, front, "
          "broker, recorder) | alia total | total / held | median / goal |")
    print("|------|---------|---------------|-----------------------------"
          "-----------------|------------|--------------|---------------|")
    for n in counts:
        t0 = time.time()
        with ThreadPoolExecutor(WIDTH) as pool:
            ids += pool.map(lambda _: make_idle(agent), range(n - len(ids)))
        print(f"pss: {n} sessions held, made in {time.time() - t0:.1f} s",
              file=sys.stderr, flush=True)
        time.sleep(SETTLE_S)
        by_role, workers, per_map = measure()
        total = sum(by_role.values())
        rest = total - by_role.get("worker", 0)
        med = statistics.median(workers) if workers else 0
        if len(workers) != n:
            print(f"pss: {len(workers)} workers for {n} sessions",
                  file=sys.stderr)
        print(f"| {n:4d} | {len(workers):7d} | {mib(med):>13} | "
              f"{mib(rest):>44} | {mib(total):>10} | "
              f"{mib(total / n):>12} | {med / GOAL_KIB:12.2f}x |",
              flush=True)
        print("pss: by role: " + ", ".join(
            f"{r} {mib(k)}" for r, k in sorted(by_role.items())),
            file=sys.stderr)
        top = sorted(per_map.items(), key=lambda kv: -kv[1])[:TOP_MAPS]
        print("pss: a worker by mapping (medians): " + ", ".join(
            f"{k} {v:.0f} KiB" for k, v in top), file=sys.stderr)
    with ThreadPoolExecutor(WIDTH) as pool:
        list(pool.map(lambda i: agent.request("DELETE", f"/api/sessions/{i}"),
                      ids))


if __name__ == "__main__":
    main()
