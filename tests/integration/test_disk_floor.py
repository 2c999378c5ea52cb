#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""record_disk_floor: run by test_disk_floor.sh, with the data_dir on a
300 MB tmpfs and ALIA_RECORD_DISK_FLOOR=100m.

A session's output is recorded; a file then fills the file system until
less than the floor is free: every session gets a "recording paused"
marker (one created meanwhile too), /metrics says so, master logs it, and
output printed then is not recorded, though the browser sees it. The file
is deleted: a "recording resumed" marker, and output is recorded again.
"""
import os
import time

import aliatest
from aliatest import WS, Agent, ok, psql, psql_until

DATA = os.environ["ALIA_DATA_DIR"]
FILLER = os.path.join(DATA, "filler")
MB = 1024 * 1024


def markers(sid, like):
    return (f"select count(*) from alia.events where session_id = '{sid}' "
            f"and kind = 'm' and convert_from(data, 'UTF8') like '{like}'")


def marker_seq(sid, like):
    return psql(f"select coalesce(min(seq), -1) from alia.events where "
                f"session_id = '{sid}' and kind = 'm' and "
                f"convert_from(data, 'UTF8') like '{like}'")


def recorded(sid, text):
    return psql(f"select count(*) > 0 from alia.events where session_id = "
                f"'{sid}' and kind = 'o' and position('{text}' in "
                f"convert_from(data, 'UTF8')) > 0") == "t"


def metric(agent, name):
    st, body = agent.request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return line.split()[1]
    return None


def free_bytes():
    st = os.statvfs(DATA)
    return st.f_bavail * st.f_frsize


def echo(w, tag, n):
    w.type(f"echo {tag}-$(({n}+1))\r")
    return w.read_until(f"{tag}-{n + 1}".encode(), 20) is not None


def main_part():
    ok(free_bytes() < 300 * MB, f"the data_dir is on the small file system "
       f"({free_bytes() // MB} MB free)")
    a = Agent()
    sid = a.create()
    w = WS(a, sid)
    ok(w.read_until(rb"\$ ", 20) is not None, "the prompt")
    ok(echo(w, "before", 10), "the browser sees before-11")
    ok(psql_until(f"select count(*) > 0 from alia.events where session_id = "
                f"'{sid}' and kind = 'o' and position('before-11' in "
                f"convert_from(data, 'UTF8')) > 0", "t") == "t",
       "above the floor, output is recorded")
    ok(metric(a, "alia_record_disk_paused") == "0", "the metric says 0")
    ok(metric(a, "alia_record_disk_free_bytes") is not None,
       "the free space is a metric")

    # leave 40 MB free: under the 100 MB floor
    fd = os.open(FILLER, os.O_CREAT | os.O_WRONLY, 0o600)
    os.posix_fallocate(fd, 0, free_bytes() - 40 * MB)
    os.close(fd)
    print(f"# filled: {free_bytes() // MB} MB free")
    got = psql_until(markers(sid, "recording paused: %record_disk_floor%"),
                   "1")
    ok(got == "1", f"the session has the pause marker ({got})")
    ok(metric(a, "alia_record_disk_paused") == "1", "the metric says 1")
    ok(metric(a, "alia_record_disk_pauses_total") == "1",
       "one pause counted")
    with open(os.environ["ALIA_SERVER_LOG"]) as f:
        ok("under record_disk_floor" in f.read(), "master logged it")

    ok(echo(w, "during", 20), "the browser sees during-21")
    # a session started while paused is paused from its start
    sid2 = a.create()
    w2 = WS(a, sid2)
    ok(w2.read_until(rb"\$ ", 20) is not None, "a second session's prompt")
    ok(echo(w2, "second", 30), "the browser sees second-31")
    got = psql_until(markers(sid2, "recording paused: %record_disk_floor%"),
                   "1")
    ok(got == "1", f"the new session has the pause marker ({got})")
    time.sleep(3)  # anything wrongly recorded, committed
    for s, tag in ((sid, "during-21"), (sid2, "second-31")):
        m = marker_seq(s, "recording paused: %")
        after = psql(f"select count(*) from alia.events where session_id ="
                     f" '{s}' and kind = 'o' and seq > {m}")
        ok(after == "0", f"no output row after the marker ({after})")
        ok(not recorded(s, tag), f"{tag} is not recorded")

    os.unlink(FILLER)
    print(f"# emptied: {free_bytes() // MB} MB free")
    for s in (sid, sid2):
        got = psql_until(markers(s, "recording resumed: %"), "1")
        ok(got == "1", f"the resume marker ({got})")
    ok(metric(a, "alia_record_disk_paused") == "0", "the metric says 0 again")
    ok(echo(w, "after", 40), "the browser sees after-41")
    ok(echo(w2, "again", 50), "and again-51")
    for s, tag in ((sid, "after-41"), (sid2, "again-51")):
        got = psql_until(f"select count(*) > 0 from alia.events where "
                       f"session_id = '{s}' and kind = 'o' and position("
                       f"'{tag}' in convert_from(data, 'UTF8')) > 0", "t")
        ok(got == "t", f"{tag} is recorded again")
    n = psql(markers(sid, "recording %"))
    ok(n == "2", f"one pause and one resume marker, no more ({n})")
    w.close()
    w2.close()
    a.request("DELETE", f"/api/sessions/{sid}")
    a.request("DELETE", f"/api/sessions/{sid2}")


def main():
    try:
        aliatest.run(main_part)
    finally:
        if os.path.exists(FILLER):
            os.unlink(FILLER)


if __name__ == "__main__":
    main()
