#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""record_quota: run under with-server.sh with ALIA_RECORD_QUOTA=200k/day.

User A prints about 130 KB in each of two sessions: together past the
quota, so both of A's sessions get one "recording paused" marker and, from
there on, no output rows (a unique string printed after the marker is not
recorded; keys still are), while the browser sees everything. User B,
another identity, prints about 130 KB too and is recorded whole, without
a marker.
"""
import time

import aliatest
from aliatest import WS, Agent, ok, psql, psql_until

PAUSED = "recording paused: %record_quota%"


def marker_seq(sid):
    return psql(f"select coalesce(min(seq), -1) from alia.events where "
                f"session_id = '{sid}' and kind = 'm' and "
                f"convert_from(data, 'UTF8') like '{PAUSED}'")


def recorded_text(sid):
    return (f"select coalesce(string_agg(convert_from(data, 'UTF8'), '' "
            f"order by seq), '') from alia.events where session_id = "
            f"'{sid}' and kind = 'o'")


def print_lots(w, tag):
    # seq 1 20000: 108 894 bytes, about 130 KB with the terminal's CRs
    w.type(f"seq 1 20000; echo {tag}-$((2+3))\r")
    return w.read_until(f"{tag}-5".encode(), 60) is not None


def main_part():
    a = Agent()
    sa1 = a.create()
    wa1 = WS(a, sa1)
    ok(wa1.read_until(rb"\$ ", 20) is not None, "A's first prompt")
    ok(print_lots(wa1, "a-one"), "A's first session prints 130 KB")
    ok(psql_until(f"select count(*) > 0 from alia.events where session_id = "
                f"'{sa1}' and kind = 'o' and position('a-one-5' in "
                f"convert_from(data, 'UTF8')) > 0", "t") == "t",
       "under the quota, A's output is recorded")
    ok(marker_seq(sa1) == "-1", "no pause marker under the quota")

    sa2 = a.create()
    wa2 = WS(a, sa2)
    ok(wa2.read_until(rb"\$ ", 20) is not None, "A's second prompt")
    ok(print_lots(wa2, "a-two"), "A's second session prints 130 KB")

    for sid in (sa1, sa2):
        got = psql_until(f"select count(*) from alia.events where session_id"
                       f" = '{sid}' and kind = 'm' and convert_from(data, "
                       f"'UTF8') like '{PAUSED}'", "1")
        ok(got == "1", f"A's session {sid[:8]} has the pause marker ({got})")

    # past the marker: the browser sees output, the recording does not
    for w, tag in ((wa1, "late-one"), (wa2, "late-two")):
        w.type(f"echo {tag}-$((40+2))\r")
        ok(w.read_until(f"{tag}-42".encode(), 20) is not None,
           f"the browser still sees {tag}")
    time.sleep(4)  # two quota ticks, and the commits of anything recorded
    for sid, tag in ((sa1, "late-one"), (sa2, "late-two")):
        m = marker_seq(sid)
        after = psql(f"select count(*) from alia.events where session_id = "
                     f"'{sid}' and kind = 'o' and seq > {m}")
        ok(after == "0", f"no output row after the marker ({after})")
        ok(f"{tag}-42" not in psql(recorded_text(sid)),
           f"{tag}'s output is not recorded")
        keys = psql(f"select position('echo {tag}' in string_agg("
                    f"convert_from(data, 'UTF8'), '' order by seq)) > 0 "
                    f"from alia.events where session_id = '{sid}' and "
                    f"kind = 'i'")
        typed = "" if keys == "t" else psql(
            f"select string_agg(seq || ':' || encode(data, 'escape'), ' ' "
            f"order by seq) from alia.events where session_id = '{sid}' "
            f"and kind in ('i', 'm') and seq > {m} - 2")
        ok(keys == "t", "the keys typed past the quota are recorded"
           + (f" (input and markers: {typed[-400:]!r})" if typed else ""))
        n = psql(f"select count(*) from alia.events where session_id = "
                 f"'{sid}' and kind = 'm' and convert_from(data, 'UTF8') "
                 f"like 'recording %'")
        ok(n == "1", f"one marker, not one per check ({n})")

    b = Agent()
    sb = b.create()
    wb = WS(b, sb)
    ok(wb.read_until(rb"\$ ", 20) is not None, "B's prompt")
    ok(print_lots(wb, "b-one"), "B prints 130 KB")
    ok(psql_until(f"select count(*) > 0 from alia.events where session_id = "
                f"'{sb}' and kind = 'o' and position('b-one-5' in "
                f"convert_from(data, 'UTF8')) > 0", "t") == "t",
       "B's output is recorded to its end")
    time.sleep(3)
    ok(psql(f"select count(*) from alia.events where session_id = '{sb}' "
            f"and kind = 'm' and convert_from(data, 'UTF8') like "
            f"'recording %'") == "0", "B's session has no pause marker")
    whole = psql(f"select sum(length(data)) >= 128894 and position("
                 f"E'\\n19999\\r\\n20000\\r\\n' in string_agg("
                 f"convert_from(data, 'UTF8'), '' order by seq)) > 0 "
                 f"from alia.events where session_id = '{sb}' and "
                 f"kind = 'o'")
    ok(whole == "t", "B's recording holds its whole output")
    used = psql("select owner, sum(bytes) from alia.record_usage "
                "group by owner order by 2 desc")
    print(f"# usage: {used!r}")
    for w in (wa1, wa2, wb):
        w.close()
    for ag, sid in ((a, sa1), (a, sa2), (b, sb)):
        ag.request("DELETE", f"/api/sessions/{sid}")


def main():
    aliatest.run(main_part)


if __name__ == "__main__":
    main()
