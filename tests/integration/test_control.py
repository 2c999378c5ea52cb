#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Watching and control with consent: run under with-server.sh with
ALIA_AUTH=password.

Learner lea (group g1) works in her terminal; instructor ian (g1) and an
admin watch it. Both watchers receive exactly the output lea's shell
prints, everyone is told who is watching, and the watchers' keys never
reach the shell. Then the handoff: ian asks for control, lea sees the
request and grants it, ian types and the shell runs it, lea's keys are
refused with a notice, ian gives control back and lea types again. A
second request is declined. Each request, grant, denial and return is an
'm' marker in alia.events and a row in alia.audit.
"""
import time

import aliatest
from aliatest import Term, cli, ok, psql

PW = {"lea": "lea-Consent-4b1f0", "ian": "ian-Consent-93ce7",
      "ada": "ada-Consent-0d8a2"}


def pump_all(terms, seconds):
    end = time.time() + seconds
    while time.time() < end:
        for t in terms:
            t.pump(0.02)


def setup():
    cli("group", "add", "g1")
    cli("user", "add", "lea", "--role", "learner", "--group", "g1",
        stdin=PW["lea"] + "\n")
    cli("user", "add", "ian", "--role", "instructor", "--group", "g1",
        stdin=PW["ian"] + "\n")
    cli("user", "add", "ada", "--role", "admin", stdin=PW["ada"] + "\n")
    return aliatest.sign_in_all(PW)


def main_part():
    agents = setup()
    sid = agents["lea"].create()
    lea = Term(agents["lea"], sid, "control")
    ok(lea.wait_out(b"$ ", 20), "lea has a prompt")
    ian = Term(agents["ian"], sid, "watch")
    ada = Term(agents["ada"], sid, "watch")
    hello = ian.wait_event(lambda e: e["type"] == "hello")
    ok(hello is not None and hello["mode"] == "watch"
       and hello["may_ask_control"] is True,
       f"ian watches, and may ask for control: {hello}")
    v = lea.wait_event(lambda e: e["type"] == "viewers" and e["count"] == 3)
    ok(v is not None and sorted(x["user"] for x in v["who"])
       == ["ada", "ian", "lea"],
       f"lea sees who is there: {v and v['who']}")

    print("# two watchers get exactly the controller's output")
    pump_all([lea, ian, ada], 0.5)
    for t in (lea, ian, ada):
        t.out = b""
    lea.type("for i in 1 2 3 4 5; do echo line-$i-$((i*i)); done\r")
    for t in (lea, ian, ada):
        t.wait_out(b"line-5-25", 10)
    pump_all([lea, ian, ada], 0.5)
    ok(ian.out == lea.out and ada.out == lea.out and b"line-5-25" in lea.out,
       f"ian and ada saw the same {len(lea.out)} bytes as lea")

    ian.type("echo sneaky-$((6*7))\r")
    ada.type("touch /tmp/ada-was-here\r")
    err = ian.wait_event(lambda e: e["type"] == "error")
    ok(err is not None and "watch-only" in err["message"],
       f"a watcher's keys are refused: {err}")
    lea.type("echo probe-$((2+2)); ls /tmp/ada-was-here\r")
    lea.wait_out(b"probe-4", 10)
    pump_all([lea, ian, ada], 0.5)
    ok(b"sneaky-42" not in lea.out and b"No such file" in lea.out,
       "nothing the watchers typed reached the shell")

    print("# control with consent")
    ian.send({"type": "control", "action": "request"})
    req = lea.wait_event(lambda e: e["type"] == "control_request")
    ok(req is not None and req["from"] == "ian",
       f"lea is asked: {req}")
    lea.send({"type": "control", "action": "grant"})
    held = ian.wait_event(lambda e: e["type"] == "control"
                          and e["holder"] == "ian")
    ok(held is not None, "ian is told he holds control")
    ok(lea.wait_event(lambda e: e["type"] == "control"
                      and e["holder"] == "ian") is not None,
       "lea is told ian holds control")
    ian.out = b""
    ian.type("echo by-ian-$((5*5))\r")
    ok(ian.wait_out(b"by-ian-25"), "ian's command ran in lea's shell")
    lea.events.clear()
    lea.type("echo by-lea-$((3*3))\r")
    refused = lea.wait_event(lambda e: e["type"] == "error")
    ok(refused is not None and "someone else" in refused["message"],
       f"lea's keys are refused with a notice: {refused}")
    pump_all([lea, ian], 1.0)
    ok(b"by-lea-9" not in ian.out, "lea's keys did not reach the shell")
    ian.send({"type": "control", "action": "return"})
    back = lea.wait_event(lambda e: e["type"] == "control"
                          and e["holder"] is None)
    ok(back is not None, "control is back with lea")
    lea.type("echo lea-again-$((4*4))\r")
    ok(lea.wait_out(b"lea-again-16"), "lea types again")

    ian.events.clear()
    ian.send({"type": "control", "action": "request"})
    ok(lea.wait_event(lambda e: e["type"] == "control_request") is not None,
       "a second request reaches lea")
    lea.send({"type": "control", "action": "deny"})
    denied = ian.wait_event(lambda e: e["type"] == "control_denied")
    ok(denied is not None and denied["by"] == "lea",
       f"ian is told lea declined: {denied}")

    lea.type("exit\r")
    for t in (lea, ian, ada):
        t.pump(1.0)
    check_records(sid)


def check_records(sid):
    print("# markers and audit rows")
    want = ["control request ian", "control grant ian", "control return ian",
            "control request ian", "control deny ian"]
    got = []
    for _ in range(40):
        got = psql(f"select coalesce(string_agg(convert_from(data, 'UTF8'), "
                   f"'|' order by seq), '') from alia.events where session_id "
                   f"= '{sid}' and kind = 'm' and convert_from(data, "
                   f"'UTF8') like 'control %'").split("|")
        if got == want:
            break
        time.sleep(0.5)
    ok(got == want, f"the recording's markers: {got}")
    audit = psql(f"select string_agg(actor || ':' || action || ':' || "
                 f"detail, '|' order by id) from alia.audit where "
                 f"session_id = '{sid}' and action like 'control %'"
                 ).split("|")
    want = ["ian:control request:ian", "lea:control grant:ian",
            "ian:control return:ian", "ian:control request:ian",
            "lea:control deny:ian"]
    ok(audit == want, f"alia.audit: {audit}")
    joins = psql(f"select string_agg(actor || ':' || action, ' ' order by "
                 f"actor, action) from alia.audit where session_id = "
                 f"'{sid}' and action like 'join %'")
    ok(joins == "ada:join watch ian:join watch lea:join control",
       f"joins are audited too: {joins}")


def main():
    aliatest.run(main_part)


if __name__ == "__main__":
    main()
