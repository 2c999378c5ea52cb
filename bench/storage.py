#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""What recorded output costs PostgreSQL (not a test). Run against a fresh
server:

  PYTHONPATH=tests/integration ALIA_BIN=build/alia \\
      tests/integration/with-server.sh /usr/bin/python3 bench/storage.py [MB [text|random]]

For text (seq) and for random bytes (/dev/urandom), one session each
prints about MB megabytes (default 20); once the search text has caught
up, it prints the bytes recorded, and what alia.events, alia.search_text
(with their TOAST and indexes), the whole database and the WAL grew by,
per MB of recorded output.
"""
import sys
import time

from aliatest import WS, Agent, psql

MB = int(sys.argv[1]) if len(sys.argv) > 1 else 20

SIZES = ("select pg_total_relation_size('alia.events') || ' ' || "
         "(pg_total_relation_size('alia.search_text') + "
         "pg_total_relation_size('alia.search_watermark')) || ' ' || "
         "pg_database_size(current_database()) || ' ' || "
         "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")


def sizes():
    psql("checkpoint")
    return [int(x) for x in psql(SIZES).split()]


def run(name, command):
    a = Agent()
    sid = a.create()
    w = WS(a, sid)
    w.read_until(rb"\$ ", 20)
    time.sleep(1)
    before = sizes()
    t0 = time.time()
    w.type(command + "; echo; echo done-$((1+2))\r")
    tail = b""
    end = time.time() + 600
    while time.time() < end and b"done-3" not in tail:
        m = w.recv(end - time.time())
        if m is not None and m[0] == 2:
            tail = (tail + m[1])[-64:]
    took = time.time() - t0
    # the last output committed, and indexed for search
    end = time.time() + 300
    while time.time() < end:
        if psql(f"select coalesce((select seq from alia.search_watermark "
                f"where session_id = '{sid}'), -1) >= (select max(seq) from "
                f"alia.events where session_id = '{sid}' and kind = 'o') "
                f"and position(convert_to('done-3', 'UTF8') in (select data "
                f"from alia.events where session_id = '{sid}' and kind = "
                f"'o' order by seq desc limit 1)) > 0") == "t":
            break
        time.sleep(1)
    after = sizes()
    out = int(psql(f"select sum(length(data)) from alia.events where "
                   f"session_id = '{sid}' and kind = 'o'"))
    rows = int(psql(f"select count(*) from alia.events where session_id = "
                    f"'{sid}' and kind = 'o'"))
    d = [x - y for x, y in zip(after, before)]
    mb = out / 1e6
    print(f"{name}: {out / 1e6:.1f} MB of output in {rows} rows, printed in "
          f"{took:.1f} s; per MB of output: events {d[0] / 1e6 / mb:.2f} MB,"
          f" search text {d[1] / 1e6 / mb:.2f} MB, database "
          f"{d[2] / 1e6 / mb:.2f} MB, WAL {d[3] / 1e6 / mb:.2f} MB",
          flush=True)
    w.close()
    a.request("DELETE", f"/api/sessions/{sid}")


def main():
    which = sys.argv[2] if len(sys.argv) > 2 else "both"
    if which in ("both", "text"):
        run("text (seq)", f"seq 1 {MB * 1000000 // 8}")
    if which in ("both", "random"):
        run("random bytes", f"head -c {MB * 1000000} /dev/urandom")


if __name__ == "__main__":
    main()
