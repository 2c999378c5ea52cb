#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Search freshness, as the README promises it: run under with-server.sh.

A string a session prints at interactive rates (typed, echoed by the
shell) is found by alia.search within 2 s of reaching the browser. A
string printed in the middle of 20 MB of output is either found or
covered by the marker row alia.search returns for that burst (its middle
is not indexed); the burst's last lines are found within 5 s of its end.
Standard library only.
"""
import os
import re
import time

import aliatest
from aliatest import WS, Agent, ok, psql

FRESH_S = 2.0  # README: typed text is searchable within 2 s
BURST_END_S = 5.0  # README: a burst's last 64 KiB within 5 s of its end


def search_rows(word, sid):
    """alia.search's rows for word in session sid: (seq, snippet) pairs."""
    out = psql(f"select seq || '|' || snippet from alia.search('{word}') "
               f"where session_id = '{sid}'")
    return [tuple(line.split("|", 1)) for line in out.split("\n") if line]


def session():
    """A new session at its prompt: its id and websocket."""
    a = Agent()
    sid = a.create()
    ws = WS(a, sid)
    ok(ws.read_until(rb"\$ ", 30) is not None, "the prompt")
    return sid, ws


def found(word, sid, since):
    """Asks alia.search until a row of sid holds word (30 s at most): the
    rows that do, and the seconds from since."""
    rows = []
    while time.time() - since < 30 and not rows:
        rows = [r for r in search_rows(word, sid) if word in r[1]]
        if not rows:
            time.sleep(0.1)
    return rows, time.time() - since


def typed():
    print("# a string typed and echoed is searchable within 2 s")
    sid, ws = session()
    word = "typed-" + os.urandom(6).hex()
    for ch in f"echo {word[:5]}''{word[5:]}\r":
        ws.type(ch)
        time.sleep(0.05)
    ok(ws.read_until(word.encode(), 10) is not None,
       "the browser sees the output")
    rows, took = found(word, sid, time.time())
    ok(rows, f"alia.search finds it after {took:.2f} s: {rows}")
    ok(took <= FRESH_S, f"within {FRESH_S} s ({took:.2f} s)")
    ws.close()


def burst():
    print("# a string in the middle of 20 MB of output")
    sid, ws = session()
    mid = "middle-" + os.urandom(6).hex()
    fill = "yes abcdefghijklmnopqrstuvwxyz | head -c 10000000"
    ws.type(f"{fill}; echo {mid[:4]}''{mid[4:]}; {fill}; "
            f"echo; echo done-$((1+2))\r")
    tail = b""
    end = time.time() + 120
    while time.time() < end and b"done-3" not in tail:
        m = ws.recv(end - time.time())
        if m is not None and m[0] == 2:
            tail = (tail + m[1])[-64:]
    ok(b"done-3" in tail, "the browser sees the burst end")
    last, took = found("done-3", sid, time.time())
    ok(last, f"the burst's last line is found after {took:.2f} s")
    ok(took <= BURST_END_S, f"within {BURST_END_S} s ({took:.2f} s)")
    at = psql(f"select min(seq) from alia.events where session_id = "
              f"'{sid}' and kind = 'o' and position(convert_to('{mid[:7]}', "
              f"'UTF8') in data) > 0")
    ok(at != "", f"the middle string is recorded (seq {at})")
    rows = search_rows(mid, sid)
    hit = [r for r in rows if mid in r[1]]
    cover = []
    for seq, snippet in rows:
        m = re.search(r"not indexed for search: .* seq (\d+) to (\d+)\]",
                      snippet)
        if m and at and int(m.group(1)) <= int(at) <= int(m.group(2)):
            cover.append(snippet)
    ok(hit or cover, f"alia.search finds it or the marker over seq {at}: "
       f"{rows}")
    ok(cover, "for 20 MB, a marker says the middle was not indexed")
    ws.close()


def main():
    aliatest.run(typed, burst)


if __name__ == "__main__":
    main()
