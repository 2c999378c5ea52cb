#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""PSS of alia's idle workers by mapping: bench/pss_maps.py [--hold N] [--top K]

With --hold N (and ALIA_URL set, e.g. under tests/integration/with-server.sh
with ALIA_POOL=0 and ALIA_MAX_SESSIONS(_PER_USER) above N) it first creates
N sessions with POST /api/sessions and waits 2 s for them to go idle.
Then, for every process titled "alia: worker", it sums the Pss of
/proc/PID/smaps_rollup (its private pages plus shared pages divided by
their sharers) and prints the median per worker, and the median per
mapping from /proc/PID/smaps (file-backed mappings by their file's name,
the others as [heap], [stack], [anon]...), largest first. Run it as root
or as the workers' user: smaps of another user's process is not readable.
"""
import argparse
import json
import os
import statistics
import sys
import time
import urllib.request


def workers():
    """The pids of the processes titled "alia: worker"."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0]
        except OSError:
            continue
        if argv0 == b"alia: worker":
            pids.append(int(d))
    return pids


def rollup_pss(pid):
    """KiB of Pss of the whole process."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def mapping_pss(pid):
    """KiB of Pss per mapping name (a file's base name, or [heap]...)."""
    out = {}
    name = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and not fields[0].endswith(":"):
                path = fields[5] if len(fields) > 5 else "[anon]"
                name = os.path.basename(path) if path[0] == "/" else path
            elif fields[0] == "Pss:":
                out[name] = out.get(name, 0) + int(fields[1])
    return out


def hold(n):
    """Creates n sessions as one anonymous identity."""
    url = os.environ["ALIA_URL"].rstrip("/")
    host = url.split("//", 1)[1]
    cookie = None
    for _ in range(n):
        req = urllib.request.Request(url + "/api/sessions", data=b"{}",
                                     method="POST")
        req.add_header("Origin", "http://" + host)
        req.add_header("Content-Type", "application/json")
        if cookie:
            req.add_header("Cookie", cookie)
        with urllib.request.urlopen(req, timeout=60) as r:
            json.load(r)
            c = r.headers.get("Set-Cookie")
            if c and cookie is None:
                cookie = c.split(";", 1)[0]
    time.sleep(2)


def main():
    ap = argparse.ArgumentParser(description="PSS of idle alia workers")
    ap.add_argument("--hold", type=int, default=0)
    ap.add_argument("--top", type=int, default=12)
    a = ap.parse_args()
    if a.hold:
        hold(a.hold)
    pids = workers()
    if not pids:
        print("pss: no 'alia: worker' process", file=sys.stderr)
        return 1
    totals = [rollup_pss(p) for p in pids]
    maps = [mapping_pss(p) for p in pids]
    names = set().union(*maps)
    per = {k: statistics.median(m.get(k, 0) for m in maps) for k in names}
    print(f"workers {len(pids)}  PSS per worker: median "
          f"{statistics.median(totals):.0f} KiB, min {min(totals)}, "
          f"max {max(totals)}")
    for k, v in sorted(per.items(), key=lambda kv: -kv[1])[:a.top]:
        print(f"  {v:7.0f} KiB  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
