#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""record_max: run under with-server.sh with ALIA_RECORD_MAX=64k.

A session prints far more than 64 KiB. The browser still sees all of it;
alia.events holds exactly the first 65536 output bytes, then one marker
saying recording stopped, and the keys typed after the limit are still
recorded. The worker is killed (-9) after the limit: its replacement
neither records output nor repeats the marker.
"""
import subprocess
import time

import aliatest
from aliatest import WS, Agent, child_pids, ok, psql, psql_until

LIMIT = 64 * 1024


def settled(sid, what, query, want, limit=30):
    """Waits until query gives want; the last answer."""
    got = psql_until(query, want, limit)
    ok(got == want, f"{what}: {got!r}")
    return got


def main_part():
    a = Agent()
    sid = a.create()
    w = WS(a, sid)
    ok(w.read_until(rb"\$ ", 20) is not None, "the prompt")
    # about 589 KB: the numbers 1 to 100000, one a line
    w.type("seq 1 100000; echo done-$((2+3))\r")
    ok(w.read_until(rb"done-5", 60) is not None,
       "the browser sees the whole output, far past the limit")

    out_bytes = (f"select coalesce(sum(length(data)), 0) from alia.events "
                 f"where session_id = '{sid}' and kind = 'o'")
    settled(sid, "output bytes recorded", out_bytes, str(LIMIT))
    markers = (f"select count(*) from alia.events where session_id = '{sid}'"
               f" and kind = 'm' and convert_from(data, 'UTF8') like "
               f"'recording stopped: output reached record_max (65536 %'")
    settled(sid, "the limit's markers", markers, "1")

    pid = aliatest.session_worker(sid)
    subprocess.run(["kill", "-9", str(pid)])
    w.close()
    # the replacement worker comes up; a browser attaches again
    w = None
    end = time.time() + 30
    while time.time() < end and w is None:
        try:
            w = WS(a, sid)
        except Exception:
            time.sleep(0.5)
    ok(w is not None, "the session answers again after the worker's death")
    w.type("echo after-$((6+1))\r")
    ok(w.read_until(rb"after-7", 20) is not None, "and runs commands")
    keys = (f"select position('echo after-$((6+1))' in string_agg("
            f"convert_from(data, 'UTF8'), '' order by seq)) > 0 from "
            f"alia.events where session_id = '{sid}' and kind = 'i'")
    settled(sid, "keys typed after the limit are recorded", keys, "t")
    time.sleep(2)  # anything the new worker would wrongly record, committed
    ok(psql(out_bytes) == str(LIMIT),
       "the replacement worker recorded no output")
    ok(psql(markers) == "1", "nor the marker again")
    restarted = psql(f"select count(*) from alia.events where session_id = "
                     f"'{sid}' and kind = 'm' and convert_from(data, 'UTF8')"
                     f" = 'worker restarted'")
    ok(restarted == "1", f"the restart is marked ({restarted})")
    w.close()
    a.request("DELETE", f"/api/sessions/{sid}")


def main():
    aliatest.run(main_part)


if __name__ == "__main__":
    main()
