#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Lean workers: run under with-server.sh with pool = 0.

A session's worker is the image alia-worker and maps no libpq, OpenSSL
(libcrypto, libssl) or libsodium: their relocated data alone made most of
an idle session's memory. The same check on front, which links them all,
finds them, so that a pattern that can no longer match fails here too."""
import os
import re

import aliatest
from aliatest import ok

HEAVY = re.compile(r"/lib(pq|crypto|ssl|sodium)\.so")


def mapped(pid):
    """The set of file paths pid maps."""
    with open(f"/proc/{pid}/maps") as f:
        return {l.split()[5] for l in f if len(l.split()) > 5}


def worker_maps():
    sid = aliatest.Agent().create()
    pid = aliatest.session_worker(sid)
    ok(pid is not None, "the session's worker runs")
    files = mapped(pid)
    ok(os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "alia-worker",
       "the worker runs the image alia-worker")
    heavy = sorted(p for p in files if HEAVY.search(p))
    ok(not heavy, f"the worker maps no libpq, OpenSSL or libsodium: {heavy}")
    fronts = aliatest.child_pids("alia: front")
    ok(len(fronts) == 1, "one front")
    ok(any(HEAVY.search(p) for p in mapped(fronts[0])),
       "front, linked with them, maps them (the check can fail)")


if __name__ == "__main__":
    aliatest.run(worker_maps)
