#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Every byte in PostgreSQL, exactly once: run under with-server.sh.

A session prints `seq 1 2000000` while the test kills (-9) the recorder,
then the broker, the recorder again, the session's worker, then
PostgreSQL's postmaster (master restarts each; the browser reconnects
after the worker's death); after the session ends, alia.events holds
every seq exactly once, its output bytes hold what seq printed byte for
byte, alia.transcript holds every line in order, and alia.asciicast is valid
asciicast v2 whose output events concatenate to the recorded bytes.
Typing 200 keys at 10 per second gives far fewer output rows; input rows
hold the keys; a password typed at a no-echo prompt is stored masked.
alia.search singles out the one session among 20 that printed a unique
string. Standard library only.
"""
import base64
import json
import os
import re
import socket
import struct
import subprocess
import time

import aliatest
from aliatest import ALIA, WS, Agent, child_pids, ok, psql


def kill9(pids, what):
    for p in pids:
        os.kill(p, 9)
    ok(len(pids) == 1, f"kill -9 {what} (pid {pids})")


def wait_recorded(sid, kind_counts_stable=3.0, limit=120):
    """Waits until the session's row count stops changing and it ended."""
    end = time.time() + limit
    last, since = None, time.time()
    while time.time() < end:
        try:
            n = psql(f"select count(*) || '/' || coalesce(max(seq), -1) from "
                     f"alia.events where session_id = '{sid}'")
        except RuntimeError:
            time.sleep(0.5)
            continue
        if n != last:
            last, since = n, time.time()
        elif time.time() - since >= kind_counts_stable:
            return last
        time.sleep(0.3)
    return last


def chaos_seq():
    print("# seq 1 2000000 with the recorder, the broker, the worker and "
          "postgres killed")
    a = Agent()
    sid = a.create()
    ws = WS(a, sid)
    ok(ws.read_until(rb"\$ ", 20) is not None, "prompt")
    t0 = time.time()
    ws.type("seq 1 2000000; echo DONE-$((40+2))\r")
    # Read continuously while the pipeline is broken and mended. Each kill
    # waits for the line seq has reached (as the browser sees it), not for
    # a time: a fast machine printed the 2 M lines before a 5.5 s schedule
    # ended. A step also waits for its process to be there again (master
    # restarts it) and for 0.4 s after the one before.
    seen = b""
    steps = [(50000, lambda: child_pids("alia: recorder"), "the recorder"),
             (300000, lambda: child_pids("alia: broker"), "the broker"),
             (500000, lambda: child_pids("alia: recorder"), "the recorder"),
             (700000, lambda: [aliatest.session_worker(sid)], "the worker"),
             (1000000, lambda: child_pids("postgres -D"), "postgres")]
    done = False
    line, last_step = 0, 0.0
    while time.time() - t0 < 240 and not done:
        if (steps and line >= steps[0][0]
                and time.time() - last_step >= 0.4):
            pids = steps[0][1]()
            if pids:
                _, _, what = steps.pop(0)
                kill9(pids, f"{what} at line {line}")
                last_step = time.time()
        m = ws.recv(0.2)
        if m and m[0] == 2:
            seen = (seen + m[1])[-4096:]
            done = b"DONE-42" in seen
            nums = re.findall(rb"\n(\d+)\r\n", seen)
            if nums:
                line = max(line, int(nums[-1]))
        if ws.closed:
            # the worker died with this websocket: reconnect
            ws.close()
            time.sleep(0.3)
            try:
                ws = WS(a, sid)
            except (RuntimeError, OSError):
                ws.closed = True
    ok(done, f"the command finished ({time.time() - t0:.1f} s)")
    ok(not steps, "every kill landed while the command was printing")
    ws.type("exit 0\r")
    ws.read_until(rb"\x00nothing", 5)
    ws.close()
    st = wait_recorded(sid)
    n, mx = map(int, st.split("/"))
    ok(n == mx + 1 and n > 0, f"no gap and no duplicate: {n} events, seq 0..{mx}")
    dup = psql(f"select count(*) - count(distinct seq) from alia.events "
               f"where session_id = '{sid}'")
    ok(dup == "0", "no duplicate seq")
    text = psql(f"select alia.transcript('{sid}')")
    nums = [int(l) for l in text.split("\n") if l.isdigit()]
    first_bad = next((i for i, v in enumerate(nums) if v != i + 1), None)
    ok(len(nums) == 2000000 and first_bad is None,
       f"transcript holds lines 1..2000000 in order ({len(nums)} numeric "
       f"lines, first out of place at index {first_bad})")
    ok("DONE-42" in text, "the transcript ends with the command's marker")
    printed = b"".join(b"%d\r\n" % i for i in range(1, 2000001))
    out = recorded_output(sid)
    ok(out.count(printed) == 1,
       f"the output rows hold what seq printed, byte for byte, once "
       f"({len(printed)} of {len(out)} bytes)")
    # Input waiting for its echo may be emitted after later output; output
    # events follow each other in time (asciicast orders by time).
    back = psql(f"select coalesce(string_agg(seq || '@' || t_us || '<' || "
                f"prev, ' '), '') from (select seq, t_us, lag(t_us) over "
                f"(order by seq) as prev from alia.events where session_id = "
                f"'{sid}' and kind = 'o') e where t_us < prev")
    ok(back == "", f"output event times never go back in seq order "
       f"({back[:300]})")
    check_cast(sid)
    rows = psql(f"select count(*) from alia.events where session_id = '{sid}' "
                "and kind = 'o'")
    print(f"# {rows} output rows for {len(text)} characters of transcript")


def check_cast(sid):
    cast = psql(f"select alia.asciicast_text('{sid}')")
    lines = cast.split("\n")
    try:
        objs = [json.loads(l) for l in lines]
    except ValueError as e:
        ok(False, f"asciicast: a line is not JSON: {e}")
        return
    h = objs[0]
    ok(h.get("version") == 2 and isinstance(h.get("width"), int)
       and isinstance(h.get("height"), int)
       and isinstance(h.get("timestamp"), (int, float))
       and isinstance(h.get("title"), str),
       f"asciicast header: {json.dumps(h)[:120]}")
    evs = objs[1:]
    good = all(isinstance(e, list) and len(e) == 3
               and isinstance(e[0], (int, float)) and e[1] in "oirm"
               and isinstance(e[2], str) for e in evs)
    times = [e[0] for e in evs]
    ok(good and times == sorted(times),
       f"asciicast: {len(evs)} events, each [time, kind, data], in time order")
    out = "".join(e[2] for e in evs if e[1] == "o").encode()
    data = recorded_output(sid)
    want = data.decode("utf-8", "replace").encode()
    if out != want:
        i = next((i for i in range(min(len(out), len(want)))
                  if out[i] != want[i]), min(len(out), len(want)))
        print(f"# first difference at byte {i} of {len(out)}/{len(want)}: "
              f"{out[i - 40:i + 40]!r} vs {want[i - 40:i + 40]!r}")
    ok(out == want,
       f"asciicast output events concatenate to the recorded bytes "
       f"({len(data)} bytes)")


def recorded_output(sid):
    """The session's output rows' bytes, in seq order."""
    raw = subprocess.run(
        [ALIA, "psql", "-XqAt", "-c",
         f"copy (select string_agg(data, ''::bytea order by seq) from "
         f"alia.events where session_id = '{sid}' and kind = 'o') to stdout "
         "with (format binary)"], capture_output=True, timeout=300).stdout
    # binary COPY: 19-byte header, int16 field count, int32 length, data
    ln = struct.unpack(">i", raw[21:25])[0]
    return raw[25:25 + ln]


def typing():
    print("# typing 200 keys at 10 per second, and a password")
    a = Agent()
    sid = a.create()
    ws = WS(a, sid)
    ws.read_until(rb"\$ ", 20)
    keys = ("echo typing-test-" + "abcdefghij" * 20)[:199] + "\r"
    for k in keys:
        ws.type(k)
        time.sleep(0.1)
    ws.read_until(rb"typing-test-.*\n.*\$ ", 10)
    secret = "hunter2-" + os.urandom(4).hex()
    ws.type("stty -echo; read -r pw; stty echo; echo got-${#pw}\r")
    time.sleep(1.0)
    for k in secret + "\r":
        ws.type(k)
        time.sleep(0.05)
    out = ws.read_until(rb"got-\d+", 10)
    ok(out is not None and f"got-{len(secret)}".encode() in out,
       "the shell read the password")
    ws.type("exit\r")
    ws.read_until(rb"\x00nothing", 3)
    ws.close()
    wait_recorded(sid)
    orows = int(psql(f"select count(*) from alia.events where session_id = "
                     f"'{sid}' and kind = 'o' and t_us < (select max(t_us) "
                     f"from alia.events where session_id = '{sid}' and kind "
                     f"= 'i' and position('\\x0d'::bytea in data) > 0)"))
    ok(orows < 100, f"200 keys at 10/s made {orows} output rows (< 100)")
    inp = psql(f"select encode(string_agg(data, ''::bytea order by seq), "
               f"'escape') from alia.events where session_id = '{sid}' and "
               "kind = 'i'")
    ok("typing-test-abcdefghij" in inp, "input rows hold the typed keys")
    ok(secret not in inp, "the password is not in the input rows")
    if not ok("*" * len(secret) in inp,
              "the password typed at the no-echo prompt is stored masked"):
        print("# input rows: " + repr(inp[-300:]))



def search():
    print("# alia.search among 20 sessions")
    unique = "needle-" + os.urandom(6).hex()
    sids = []
    for i in range(20):
        a = Agent()
        sid = a.create()
        ws = WS(a, sid)
        ws.read_until(rb"\$ ", 30)
        word = unique if i == 13 else f"hay-{i}"
        ws.type(f"echo {word[:7]}''{word[7:]}; exit\r")
        ws.read_until(rb"\x00nothing", 3)
        ws.close()
        sids.append(sid)
    hit = ""
    for _ in range(60):
        hit = psql(f"select string_agg(distinct session_id::text, ',') from "
                   f"alia.search('{unique}')")
        if hit:
            break
        time.sleep(0.5)
    ok(hit == sids[13], f"alia.search finds exactly session 14 of 20 ({hit})")
    snip = psql(f"select snippet from alia.search('{unique}') limit 1")
    ok(unique in snip, f"with a snippet: {snip!r}")


def main():
    aliatest.run(typing, search, chaos_seq)


if __name__ == "__main__":
    main()
