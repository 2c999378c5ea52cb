#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""What real clients found in recordings; run under with-server.sh.

A session made 80x24 and resized to 100x30: its asciicast (the API's and
`alia session export`'s) has the size it started with in the header and
the resize as an 'r' event, and asciinema itself reads it. `alia session
kill` ends a session as DELETE does, recorded with end reason "killed".
"""
import json
import os
import subprocess
import tempfile
import time

import aliatest
from aliatest import WS, Agent, cli, ok, psql, psql_until


def cast_start_size():
    a = Agent()
    st, body = a.request("POST", "/api/sessions",
                         json.dumps({"cols": 80, "rows": 24}))
    ok(st == 201, f"a session made 80x24: {st}")
    sid = json.loads(body)["id"]
    w = WS(a, sid)
    ok(w.read_until(rb"\$ ", 20) is not None, "the prompt")
    w.type("stty size\r")
    ok(w.read_until(rb"24 80", 10) is not None, "the shell sees 24 80")
    w.send(1, json.dumps({"type": "resize", "cols": 100,
                          "rows": 30}).encode())
    w.type("stty size\r")
    ok(w.read_until(rb"30 100", 10) is not None, "then 30 100")
    got = psql_until(f"select cols || 'x' || rows from alia.sessions "
                f"where id = '{sid}'", "100x30")
    ok(got == "100x30", f"the row follows the resize: {got}")
    got = psql_until(f"select count(*) from alia.events where session_id = "
                f"'{sid}' and kind = 'r' and data = '100x30'::bytea", "1")
    ok(got == "1", f"the resize is recorded: {got}")
    psql_until(f"select count(*) > 0 from alia.events where session_id = "
          f"'{sid}' and kind = 'o' and position('30 100'::bytea in data) "
          f"> 0", "t")

    st, body = a.request("GET", f"/api/sessions/{sid}/recording")
    ok(st == 200, f"GET recording: {st}")
    lines = body.decode().split("\n")
    head = json.loads(lines[0])
    ok((head["width"], head["height"]) == (80, 24),
       f"the API's header has the size at the start: {head}")
    evs = [json.loads(l) for l in lines[1:] if l]
    ok(["r", "100x30"] in [e[1:] for e in evs],
       "the resize is an r event")
    exported = cli("session", "export", sid)
    ok(exported == body.decode(), "alia session export gives the same")

    with tempfile.NamedTemporaryFile("w", suffix=".cast",
                                     delete=False) as f:
        f.write(exported)
    # asciinema cat wants a terminal: script(1) gives it one
    r = subprocess.run(["script", "-qec", f"asciinema cat {f.name}",
                        "/dev/null"], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60)
    os.unlink(f.name)
    ok(r.returncode == 0 and b"30 100" in r.stdout,
       f"asciinema cat reads it: {r.returncode} {r.stderr[-200:]!r}")
    w.close()
    a.request("DELETE", f"/api/sessions/{sid}")


def kill_reason():
    a = Agent()
    sid = a.create()
    w = WS(a, sid)
    ok(w.read_until(rb"\$ ", 20) is not None, "the prompt")
    out = cli("session", "kill", sid)
    ok("killed" in out, f"alia session kill says so: {out.strip()}")
    row = psql(f"select state || '/' || end_reason from alia.sessions "
               f"where id = '{sid}'")
    ok(row == "ended/killed", f"the row: {row}")
    st, body = a.request("GET", f"/api/sessions/{sid}")
    d = json.loads(body)
    ok((st, d.get("state"), d.get("end_reason")) == (200, "ended", "killed"),
       f"the API: {st} {body!r}")
    w.close()

    # DELETE still records its own reason
    sid = a.create()
    WS(a, sid).read_until(rb"\$ ", 20)
    a.request("DELETE", f"/api/sessions/{sid}")
    got = psql_until(f"select state || '/' || end_reason from alia.sessions "
                f"where id = '{sid}'", "ended/deleted")
    ok(got == "ended/deleted", f"DELETE: {got}")


aliatest.run(cast_start_size, kill_reason)
