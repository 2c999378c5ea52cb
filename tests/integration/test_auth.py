#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Accounts and the permission matrix: run under with-server.sh with
ALIA_AUTH=password.

Six callers: learner A (group g1), learner B (group g2), instructor I1
(g1), instructor I2 (g2), an admin, and anonymous. Over every API route
and both websocket modes, each allowed cell works and each denied cell
gets 401 or 403 with no session data in the answer; each refusal of a
websocket (404, 403, 410) is an HTTP answer with its reason. Also: sign-in and
sign-out, API (bearer) tokens, the failed sign-in rate limit, cross-origin
refusals, and that no password reaches the database or the log.
"""
import json
import os
import subprocess
import threading
import time

import aliatest
from aliatest import WS, Agent, UpgradeRefused, cli, login, ok, psql

PASSWORDS = {
    "alice": "alice-Secret-7f3a9",
    "bob": "bob-Secret-1c9e2",
    "irene": "irene-Secret-55d0b",
    "ivan": "ivan-Secret-a8e41",
    "root": "root-Secret-3b7c6",
    "victim": "victim-Secret-d2e90",
}
USERS = [("alice", "learner", "g1"), ("bob", "learner", "g2"),
         ("irene", "instructor", "g1"), ("ivan", "instructor", "g2"),
         ("root", "admin", None), ("victim", "learner", None)]


def no_data(body, *secrets):
    """A denied answer: an error object naming none of the secrets."""
    try:
        obj = json.loads(body)
    except ValueError:
        return False
    return (isinstance(obj, dict) and set(obj) == {"error"}
            and not any(s in body.decode(errors="replace") for s in secrets))


def check_list(agent, name, path, visible, secrets):
    """A list route: anonymous gets 401; others exactly the visible of
    the sessions in secrets."""
    st, body = agent.request("GET", path)
    if name == "anon":
        ok(st == 401 and no_data(body, *secrets),
           f"anonymous GET {path} -> {st}")
        return
    ids = {x["id"] for x in json.loads(body)} if st == 200 else set()
    ok(st == 200 and ids & set(secrets) == visible,
       f"{name} GET {path} lists {len(ids & visible)} of {len(visible)} "
       f"visible, no other")


def ws_status(agent, sid, mode, origin=None):
    try:
        w = WS(agent, sid, mode, origin)
    except UpgradeRefused as e:
        return e.status, e.body
    hello = w.recv(5)
    w.close()
    return 101, hello[1] if hello else b""


def setup():
    print("# accounts from the command line")
    cli("group", "add", "g1")
    cli("group", "add", "g2")
    for name, role, group in USERS:
        args = ["user", "add", name, "--role", role]
        if group:
            args += ["--group", group]
        cli(*args, stdin=PASSWORDS[name] + "\n")
    rows = psql("select count(*) from alia.users where pwhash like "
                "'$argon2id$%'")
    ok(rows == str(len(USERS)), f"{rows} users with argon2id hashes")


def matrix():
    print("# the permission matrix")
    agents = {}
    for name in ("alice", "bob", "irene", "ivan", "root"):
        a, st, body = login(name, PASSWORDS[name])
        ok(st == 200 and json.loads(body).get("user") == name,
           f"{name} signs in ({st})")
        agents[name] = a
    anon = Agent()
    agents["anon"] = anon

    for name, a in agents.items():
        st, body = a.request("GET", "/api/me")
        if name == "anon":
            ok(st == 401, f"anonymous GET /api/me -> {st}")
        else:
            me = json.loads(body) if st == 200 else {}
            ok(st == 200 and me.get("user") == name,
               f"{name} GET /api/me -> {st} {me.get('role')}")

    st, body = anon.request("POST", "/api/sessions")
    ok(st == 401 and no_data(body), f"anonymous POST /api/sessions -> {st}")
    sa = agents["alice"].create()
    sb = agents["bob"].create()
    ok(True, f"alice has {sa}, bob has {sb}")
    secrets = (sa, sb)

    # who may see alice's session: herself, irene (g1) and root
    sees_a = {"alice": True, "bob": False, "irene": True, "ivan": False,
              "root": True, "anon": False}
    sees_b = {"alice": False, "bob": True, "irene": False, "ivan": True,
              "root": True, "anon": False}
    for name, a in agents.items():
        denied = 401 if name == "anon" else 403
        st, body = a.request("GET", f"/api/sessions/{sa}")
        if sees_a[name]:
            ok(st == 200 and json.loads(body)["owner"] == "alice",
               f"{name} GET /api/sessions/A -> {st}")
        else:
            ok(st == denied and no_data(body, *secrets),
               f"{name} GET /api/sessions/A -> {st}, no data")

        visible = {x for x, see in ((sa, sees_a[name]), (sb, sees_b[name]))
                   if see}
        check_list(a, name, "/api/sessions", visible, secrets)

        st, body = a.request("GET", f"/api/sessions/{sa}/recording")
        if sees_a[name]:
            ok(st == 200 and b'"version"' in body[:40],
               f"{name} GET /api/sessions/A/recording -> {st}")
        else:
            ok(st == denied and no_data(body, *secrets),
               f"{name} GET /api/sessions/A/recording -> {st}, no data")

        check_list(a, name, "/api/recordings", visible, secrets)

        # watching reaches as far as seeing; control is the owner's
        st, body = ws_status(a, sa, "watch")
        want = 101 if sees_a[name] else denied
        ok(st == want, f"{name} watch A -> {st} (want {want})")
        if st != 101:
            ok(no_data(body, *secrets), f"{name} watch A: no data")
        st, body = ws_status(a, sa, "control")
        want = 101 if name == "alice" else denied
        ok(st == want, f"{name} control A -> {st} (want {want})")

        st, body = a.request("GET", "/metrics")
        want = 200 if name == "root" else denied
        ok(st == want, f"{name} GET /metrics -> {st} (want {want})")

    for name in ("bob", "irene", "ivan", "anon"):
        denied = 401 if name == "anon" else 403
        st, body = agents[name].request("DELETE", f"/api/sessions/{sa}")
        ok(st == denied and no_data(body, *secrets),
           f"{name} DELETE A -> {st}")
    st, _ = agents["root"].request("DELETE", f"/api/sessions/{sb}")
    ok(st == 204, f"root DELETE B -> {st}")
    st, _ = agents["alice"].request("DELETE", f"/api/sessions/{sa}")
    ok(st == 204, f"alice DELETE A -> {st}")

    # sign-out ends the cookie's use
    a = agents["bob"]
    old = a.cookie
    st, _ = a.request("POST", "/api/logout")
    ok(st == 204, f"bob POST /api/logout -> {st}")
    a.cookie = old
    st, body = a.request("GET", "/api/me")
    ok(st == 401 and no_data(body), f"bob's old cookie after logout -> {st}")


def tokens():
    print("# API tokens")
    tok = cli("user", "token", "alice").strip()
    ok(len(tok) == 64, "alia user token prints a token")
    a = Agent()
    st, body = a.request("GET", "/api/me",
                         headers={"Authorization": f"Bearer {tok}"})
    ok(st == 200 and json.loads(body)["user"] == "alice",
       f"Authorization: Bearer -> {st}")
    st, body = a.request("GET", "/api/me",
                         headers={"Authorization": "Bearer " + "0" * 64})
    ok(st == 401 and no_data(body), f"an unknown bearer token -> {st}")
    st, body = a.request("GET", "/api/me",
                         headers={"Authorization": "Bearer nonsense"})
    ok(st == 401, f"a malformed bearer token -> {st}")


def refusals():
    print("# cross-origin requests and the sign-in rate limit")
    a, st, body = login("alice", PASSWORDS["alice"],
                        origin="http://evil.example")
    ok(st == 403 and b"Set-Cookie" not in body,
       f"sign-in from another origin -> {st}")
    a, st, _ = login("alice", PASSWORDS["alice"])
    sid = a.create()
    st, _ = ws_status(a, sid, "control", origin="http://evil.example")
    ok(st == 403, f"cross-origin websocket upgrade -> {st}")
    st, _ = a.request("DELETE", f"/api/sessions/{sid}",
                      headers={"Origin": "http://evil.example"})
    ok(st == 403, f"cross-origin DELETE -> {st}")
    a.request("DELETE", f"/api/sessions/{sid}")

    codes = [login("victim", "wrong-" + str(i))[1] for i in range(5)]
    ok(codes == [401] * 5, f"5 wrong passwords -> {codes}")
    _, st, _ = login("victim", "wrong-again")
    ok(st == 429, f"the 6th attempt -> {st}")
    _, st, _ = login("victim", PASSWORDS["victim"])
    ok(st == 429, f"even the right password, while limited -> {st}")
    _, st, _ = login("nobody-here", "x")
    ok(st == 401, f"an unknown user -> {st}, as a wrong password")
    _, st, _ = login("alice", PASSWORDS["alice"])
    ok(st == 200, f"another user is not limited -> {st}")


def ws_refused(agent, sid, mode, want, message, what):
    """An upgrade refused with an HTTP answer: want, {"error": message}."""
    st, body = ws_status(agent, sid, mode)
    try:
        err = json.loads(body).get("error") if st != 101 else None
    except ValueError:
        err = None
    ok(st == want and err == message,
       f"{what} -> {st} {err!r} (want {want} {message!r})")


def ws_answers():
    print("# websocket refusals are HTTP answers (master's one check)")
    agents = {n: login(n, PASSWORDS[n])[0]
              for n in ("alice", "bob", "irene", "ivan")}
    a = agents["alice"]
    sid = a.create()
    ws_refused(a, "00000000-0000-4000-8000-000000000000", "control", 404,
               "no such session", "alice control an unknown id")
    ws_refused(agents["bob"], sid, "control", 403,
               "this session is not yours", "bob control alice's session")
    ws_refused(agents["bob"], sid, "watch", 403,
               "this session is not yours", "bob watch alice's session")
    ws_refused(agents["ivan"], sid, "watch", 403,
               "this session is not yours",
               "ivan (instructor of g2) watch alice (g1)")
    ws_refused(agents["irene"], sid, "control", 403,
               "this session is not yours", "irene control alice's session")
    st, hello = ws_status(agents["irene"], sid, "watch")
    ok(st == 101 and b'"mode":"watch"' in hello,
       f"irene (instructor of g1) watch alice -> {st}")
    st, hello = ws_status(a, sid, "control")
    ok(st == 101 and b'"mode":"control"' in hello,
       f"alice control her own session -> {st}")
    st, _ = a.request("DELETE", f"/api/sessions/{sid}")
    ok(st == 204, f"alice DELETE her session -> {st}")
    for _ in range(60):
        st, body = a.request("GET", f"/api/sessions/{sid}")
        if st == 200 and json.loads(body)["state"] == "ended":
            break
        time.sleep(0.5)
    ws_refused(a, sid, "control", 410, "this session has ended",
               "alice control her ended session")
    ws_refused(agents["irene"], sid, "watch", 410, "this session has ended",
               "irene watch alice's ended session")
    ws_refused(agents["ivan"], sid, "watch", 403,
               "this session is not yours",
               "ivan watch alice's ended session")


def responsive():
    print("# passwords are checked off front's loop")
    # Four sign-ins at once: each password check takes a tenth of a second
    # or more of CPU. A request arriving meanwhile is answered at once, not
    # after them.
    names = ["alice", "bob", "irene", "ivan"]
    done = {}

    def sign_in(name):
        t0 = time.monotonic()
        _, st, _ = login(name, PASSWORDS[name])
        done[name] = (st, time.monotonic() - t0)

    threads = [threading.Thread(target=sign_in, args=(n,)) for n in names]
    for t in threads:
        t.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    st, body = Agent().request("GET", "/healthz")
    health = time.monotonic() - t0
    for t in threads:
        t.join()
    codes = [done[n][0] for n in names]
    fastest = min(done[n][1] for n in names)
    ok(codes == [200] * 4, f"four sign-ins at once -> {codes}")
    ok(st == 200 and health < fastest / 2,
       f"/healthz during them took {health * 1000:.1f} ms; the fastest "
       f"sign-in {fastest * 1000:.0f} ms")


def quotas():
    print("# per-role quotas (learner: 1 session, 64 MiB)")
    a, _, _ = login("alice", PASSWORDS["alice"])
    s1 = a.create()
    st, body = a.request("POST", "/api/sessions")
    ok(st == 429 and b"at most 1 at once for a learner" in body,
       f"a learner's second session -> {st} {body[:80]!r}")
    mem = subprocess.run(["docker", "inspect", "-f",
                          "{{.HostConfig.Memory}}", f"alia-{s1}"],
                         capture_output=True, text=True).stdout.strip()
    ok(mem == str(64 << 20), f"a learner's container has 64 MiB ({mem})")
    i, _, _ = login("irene", PASSWORDS["irene"])
    s2, s3 = i.create(), i.create()
    mem = subprocess.run(["docker", "inspect", "-f",
                          "{{.HostConfig.Memory}}", f"alia-{s2}"],
                         capture_output=True, text=True).stdout.strip()
    ok(mem == str(256 << 20),
       f"an instructor has two, with the global 256 MiB ({mem})")
    for agent, sid in ((a, s1), (i, s2), (i, s3)):
        agent.request("DELETE", f"/api/sessions/{sid}")


def no_passwords():
    print("# no password in the database or the log")
    dump = psql("select string_agg(t::text, E'\\n') from (select u::text "
                "from alia.users u union all select a::text from "
                "alia.audit a union all select k::text from alia.tokens k "
                "union all select s::text from alia.sessions s) t(t)")
    log = open(os.environ["ALIA_SERVER_LOG"], errors="replace").read()
    for name, pw in PASSWORDS.items():
        ok(pw not in dump, f"{name}'s password is not in the database")
        ok(pw not in log, f"{name}'s password is not in the log")
    audit = psql("select count(*) from alia.audit where action = 'login'")
    ok(int(audit) >= 5, f"{audit} sign-ins in alia.audit")


def main():
    aliatest.run(setup, matrix, tokens, refusals, ws_answers, responsive,
                 quotas, no_passwords)


if __name__ == "__main__":
    main()
