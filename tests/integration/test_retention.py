#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""record_retention: run under with-server.sh with
ALIA_RECORD_RETENTION=30d and ALIA_RECORD_RETENTION_EVERY=2s.

Three sessions are written straight into the database: one that ended 60
days ago (25 000 events, so the job needs many batches), one that ended a
day ago, and one still running that started 100 days ago; each with
events, search text, an audit row and a share link. The recorder's job
deletes every row of the first, the session row too, and leaves the
other two whole.
"""
import os
import time

import aliatest
from aliatest import ok, psql

OLD = "01d00000-0000-4000-8000-000000000001"
RECENT = "0e000000-0000-4000-8000-000000000002"
LIVE = "01e00000-0000-4000-8000-000000000003"
NEVENTS = 25000


def counts(sid):
    return psql(
        f"select (select count(*) from alia.sessions where id = '{sid}') "
        f"|| ' ' || (select count(*) from alia.events where session_id = "
        f"'{sid}') || ' ' || (select count(*) from alia.search_text where "
        f"session_id = '{sid}') || ' ' || (select count(*) from alia.audit "
        f"where session_id = '{sid}') || ' ' || (select count(*) from "
        f"alia.shares where session_id = '{sid}')")


def insert(sid, state, created, ended, n):
    ended_sql = f"now() - interval '{ended}'" if ended else "NULL"
    psql(f"""
BEGIN;
INSERT INTO alia.sessions (id, owner, image, state, created_at, started_at,
    ended_at)
VALUES ('{sid}', 'retention-test', 'img', '{state}',
    now() - interval '{created}', now() - interval '{created}', {ended_sql});
INSERT INTO alia.events (session_id, seq, t_us, kind, data)
SELECT '{sid}', g, g * 1000, 'o', convert_to('line ' || g || E'\\r\\n',
    'UTF8')
FROM generate_series(0, {n - 1}) g;
INSERT INTO alia.search_text (session_id, seq, t_us, body)
VALUES ('{sid}', 0, 0, 'line 0');
INSERT INTO alia.search_watermark (session_id, seq) VALUES ('{sid}', 0);
INSERT INTO alia.audit (actor, action, session_id, detail)
VALUES ('ann', 'control grant', '{sid}', '');
INSERT INTO alia.shares (hash, session_id, created_by, expires_at)
VALUES (sha256(convert_to('{sid}', 'UTF8')), '{sid}', 'ann',
    now() + interval '1 hour');
COMMIT;""")


def main_part():
    insert(OLD, "ended", "61 days", "60 days", NEVENTS)
    insert(RECENT, "ended", "2 days", "1 day", 100)
    insert(LIVE, "running", "100 days", None, 100)
    ok(counts(OLD) == f"1 {NEVENTS} 1 1 1", f"the old one ({counts(OLD)})")
    end = time.time() + 60
    while time.time() < end and counts(OLD) != "0 0 0 0 0":
        time.sleep(0.5)
    ok(counts(OLD) == "0 0 0 0 0",
       f"every row of the session ended 60 days ago is gone ({counts(OLD)})")
    ok(psql(f"select count(*) from alia.search_watermark where session_id "
            f"= '{OLD}'") == "0", "its search watermark too")
    ok(counts(RECENT) == "1 100 1 1 1",
       f"the session ended a day ago is whole ({counts(RECENT)})")
    ok(counts(LIVE) == "1 100 1 1 1",
       f"the running session started 100 days ago is whole "
       f"({counts(LIVE)})")
    with open(os.environ["ALIA_SERVER_LOG"]) as f:
        log = f.read()
    ok("retention: " in log and "rows of sessions ended" in log,
       "the recorder logged the run")
    time.sleep(5)  # more runs: nothing else goes
    ok(counts(RECENT) == "1 100 1 1 1" and counts(LIVE) == "1 100 1 1 1",
       "later runs leave them too")


def main():
    aliatest.run(main_part)


if __name__ == "__main__":
    main()
