#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Share links: run under with-server.sh with ALIA_AUTH=password.

Learner sue makes a read-only link to her session. Anyone holding it (no
sign-in) learns which session it shows and watches it: her output
arrives, their keys are refused, control mode is refused. Someone else
cannot make a link to her session; a token for another session, an
unknown token, an expired link and a revoked link admit nobody; those
watching through a link are sent off when it is revoked or expires; sue's
list shows the link and its revocation; both are audited.
"""
import json
import time

import aliatest
from aliatest import WS, Agent, UpgradeRefused, cli, login, ok, psql

PW = {"sue": "sue-Share-61f0a", "tom": "tom-Share-2b9c4"}


def ws_refused(agent, sid, query):
    """The status of a refused upgrade, or 101."""
    try:
        w = WS(agent, sid + query)
    except UpgradeRefused as e:
        return e.status
    w.close()
    return 101


def sent_off(ws, timeout):
    """The error message and close code a websocket gets within timeout."""
    said, code = None, None
    end = time.time() + timeout
    while time.time() < end and not ws.closed:
        m = ws.recv(1)
        if m and m[0] == 1 and b'"error"' in m[1]:
            said = json.loads(m[1])["message"]
        elif m and m[0] == 8:
            code = int.from_bytes(m[1][:2], "big")
    return said, code


def once(head, line):
    """Whether the response head holds the header line exactly once."""
    return [l.lower() for l in head.split("\r\n")].count(line) == 1


def main_part():
    for name in PW:
        cli("user", "add", name, "--role", "learner", stdin=PW[name] + "\n")
    sue, st, _ = login("sue", PW["sue"])
    ok(once(sue.head, "cache-control: no-store"),
       "a sign-in answer says Cache-Control once")
    tom, _, _ = login("tom", PW["tom"])
    sid = sue.create()
    other = tom.create()

    st, body = sue.request("POST", f"/api/sessions/{sid}/shares",
                           json.dumps({"minutes": 30}))
    share = json.loads(body) if st == 201 else {}
    tok = share.get("token", "")
    ok(st == 201 and len(tok) == 64 and share["url"] == f"/#/share/{tok}"
       and share["minutes"] == 30, f"sue makes a 30-minute link ({st})")
    ok(once(sue.head, "cache-control: no-store"),
       "the new link's answer says Cache-Control once")
    st, body = tom.request("POST", f"/api/sessions/{sid}/shares")
    ok(st == 403 and tok.encode() not in body,
       f"tom cannot share sue's session ({st})")
    st, _ = sue.request("POST", f"/api/sessions/{sid}/shares",
                        json.dumps({"minutes": 0}))
    ok(st == 400, f"a link of 0 minutes is refused ({st})")

    anyone = Agent()
    st, body = anyone.request("GET", f"/api/shares/{tok}")
    info = json.loads(body) if st == 200 else {}
    ok(st == 200 and info["session"] == sid
       and 0 < info["expires_in_s"] <= 1800,
       f"the link names the session, for anyone ({st} {info})")
    ok(once(anyone.head, "cache-control: no-store"),
       "the link's answer says Cache-Control once")
    st, _ = anyone.request("GET", f"/api/sessions/{sid}")
    ok(st == 401, f"but the session API stays closed ({st})")

    owner = WS(sue, sid)
    owner.read_until(rb"\$ ", 20)
    viewer = WS(anyone, sid + f"?mode=watch&share={tok}")
    hello = json.loads(viewer.recv(5)[1])
    ok(hello["type"] == "hello" and hello["mode"] == "watch"
       and hello["user"].startswith("link-"),
       f"anyone watches through the link as {hello.get('user')}")
    owner.type("echo shared-$((20+1))\r")
    ok(viewer.read_until(rb"shared-21", 10) is not None,
       "the viewer sees sue's output")
    viewer.type("echo from-viewer-$((1+1))\r")
    owner.type("echo check-$((3+3))\r")
    out = owner.read_until(rb"check-6", 10) or b""
    ok(b"from-viewer-2" not in out, "the viewer's keys never reach the shell")
    viewer.close()

    for what, query, want in (
            ("control mode", f"?mode=control&share={tok}", 403),
            ("another session's id", f"?mode=watch&share={tok}", 403),
            ("an unknown token", "?mode=watch&share=" + "ab" * 32, 403),
            ("a malformed token", "?mode=watch&share=xyz", 403)):
        target = other if what == "another session's id" else sid
        st = ws_refused(anyone, target, query)
        ok(st == want, f"{what} is refused ({st})")

    st, body = sue.request("GET", f"/api/sessions/{sid}/shares")
    lst = json.loads(body) if st == 200 else []
    ok(st == 200 and len(lst) == 1 and lst[0]["name"] == share["name"]
       and lst[0]["revoked_at"] is None, f"sue lists her link ({st})")
    st, _ = tom.request("DELETE", f"/api/sessions/{sid}/shares/{share['name']}")
    ok(st == 404, f"tom cannot revoke it ({st})")
    watching = WS(anyone, sid + f"?mode=watch&share={tok}")
    watching.recv(5)
    st, _ = sue.request("DELETE", f"/api/sessions/{sid}/shares/{share['name']}")
    ok(st == 204, f"sue revokes it ({st})")
    said, code = sent_off(watching, 10)
    ok(said == "the share link was revoked" and code == 1008,
       f"a viewer watching through it is sent off ({said!r}, {code})")
    watching.close()
    st = ws_refused(anyone, sid, f"?mode=watch&share={tok}")
    ok(st == 403, f"a revoked link admits nobody ({st})")
    st, _ = anyone.request("GET", f"/api/shares/{tok}")
    ok(st == 404, f"nor names the session ({st})")
    st, body = sue.request("GET", f"/api/sessions/{sid}/shares")
    ok(st == 200 and json.loads(body)[0]["revoked_at"] is not None,
       "the list shows the revocation")

    st, body = sue.request("POST", f"/api/sessions/{sid}/shares")
    tok2 = json.loads(body)["token"] if st == 201 else ""
    # A link that expires while someone watches through it sends them off.
    psql("update alia.shares set expires_at = now() + interval '3 seconds' "
         "where revoked_at is null")
    watching = WS(anyone, sid + f"?mode=watch&share={tok2}")
    hello = watching.recv(5)
    t0 = time.monotonic()
    said, code = sent_off(watching, 15)
    took = time.monotonic() - t0
    ok(hello and b'"hello"' in hello[1]
       and said == "the share link has expired" and code == 1008
       and 1 <= took <= 10,
       f"a viewer is sent off when the link expires ({said!r}, {code}, "
       f"after {took:.1f} s of 3)")
    watching.close()
    st = ws_refused(anyone, sid, f"?mode=watch&share={tok2}")
    ok(st == 403, f"an expired link admits nobody ({st})")

    audit = psql(f"select string_agg(action, ',' order by id) from "
                 f"alia.audit where session_id = '{sid}' and action like "
                 f"'share%'")
    ok(audit == "share,share revoked,share", f"audited: {audit}")
    stored = psql(f"select count(*) from alia.shares s, alia.audit a "
                  f"where s::text || a::text like '%{tok}%' or "
                  f"s::text || a::text like '%{tok2}%'")
    ok(stored == "0", "the tokens themselves are not stored")
    owner.close()
    for a, s in ((sue, sid), (tom, other)):
        a.request("DELETE", f"/api/sessions/{s}")


def main():
    aliatest.run(main_part)


if __name__ == "__main__":
    main()
