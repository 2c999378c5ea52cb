#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""What placement over several engines costs (script/bench-engines runs
this under with-server.sh, once per configuration). Creates N sessions
one after the other (pool = 0, so each is a docker create, attach and
start on the engine chosen), timing POST /api/sessions until its 201,
and deletes each; prints the median and p90 in ms, and how the sessions
spread. Its one argument names the run in the output."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "integration"))
from aliatest import Agent  # noqa: E402


def main():
    name = sys.argv[1]
    n = int(os.environ.get("BENCH_SESSIONS", "15"))
    a = Agent()
    # the engines take a few seconds to be ready: the first create waits
    sid = a.create()
    a.request("DELETE", f"/api/sessions/{sid}")
    times, spread, held = [], {}, []
    for _ in range(n):
        t0 = time.monotonic()
        st, body = a.request("POST", "/api/sessions")
        times.append((time.monotonic() - t0) * 1000)
        if st != 201:
            print(f"bench-engines: {name}: POST answered {st}: {body[:200]}")
            sys.exit(1)
        sid = json.loads(body)["id"]
        held.append(sid)
        st, body = a.request("GET", f"/api/sessions/{sid}")
        eng = json.loads(body).get("engine")
        spread[eng] = spread.get(eng, 0) + 1
        if len(held) >= 4:
            a.request("DELETE", f"/api/sessions/{held.pop(0)}")
    for sid in held:
        a.request("DELETE", f"/api/sessions/{sid}")
    times.sort()
    p50 = statistics.median(times)
    p90 = times[int(len(times) * 0.9) - 1]
    print(f"{name}: create p50 {p50:.1f} ms, p90 {p90:.1f} ms over {n} "
          f"sessions; spread {dict(sorted(spread.items()))}", flush=True)
    with open(os.environ["BENCH_OUT"], "a") as f:
        f.write(f"{name} {p50:.3f} {p90:.3f}\n")


if __name__ == "__main__":
    main()
