#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# An external PostgreSQL, for real: a cluster started here (initdb into a
# temporary directory, TCP on 127.0.0.1 with scram passwords) with a role
# `app` that owns its database and may not create roles, and alia with
# database = 'host=127.0.0.1 port=P dbname=appdb user=app password=...'.
#   1. The migrations apply; front's role is missing, so `alia migrate` and
#      `alia serve` stop with the exact statements a superuser must run;
#      once run, alia serves as it, gives alia_front its rights, and a
#      session's output lands in the external database.
#   2. The database down when alia starts and up 10 s later: alia waits
#      with a log line per attempt and becomes healthy, never restarted.
#   3. `alia psql` while it runs: the password is in no /proc/*/cmdline,
#      and its temporary password file is gone afterwards.
set -u
ALIA=${ALIA_BIN:?ALIA_BIN must name the alia binary}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py=/usr/bin/python3
. "$here/lib.sh"

tmp=$(mktemp -d /tmp/alia-extpg.XXXXXX) || exit 1
chmod 755 "$tmp"
as=()
if [ "$(id -u)" = 0 ]; then
	as=(runuser -u alia --)
	chown alia: "$tmp"
fi
bindir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin | sort -V | tail -n 1)
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pw="Sec-$RANDOM$RANDOM-ret"
pgdata=$tmp/pgdata
mkdir -p "$tmp/sock" "$tmp/ptmp"
[ ${#as[@]} -gt 0 ] && chown alia: "$tmp/sock"

pg_up() {
	"${as[@]}" "$bindir/pg_ctl" start -w -s -t 60 -D "$pgdata" \
		-l "$tmp/pg.log" -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp/sock" >/dev/null
}
pg_down() { "${as[@]}" "$bindir/pg_ctl" stop -s -m fast -D "$pgdata" >/dev/null; }
# psql as the cluster's superuser, on its unix socket.
su_q() {
	"$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$tmp/sock" -p "$port" \
		-U postgres -d "${DB:-postgres}" "$@"
}
cleanup() {
	trap - EXIT
	[ -n "${delayed:-}" ] && kill "$delayed" 2>/dev/null && wait "$delayed" 2>/dev/null
	"${as[@]}" "$bindir/pg_ctl" stop -s -m immediate -D "$pgdata" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

"${as[@]}" "$bindir/initdb" -D "$pgdata" -U postgres -E UTF8 --locale=C \
	--auth-local=trust --auth-host=scram-sha-256 -N >"$tmp/initdb.log" 2>&1 || {
	cat "$tmp/initdb.log"
	not_ok "initdb"
	exit 1
}
pg_up || {
	cat "$tmp/pg.log"
	not_ok "postgres did not start"
	exit 1
}
su_q -c "CREATE ROLE app LOGIN PASSWORD '$pw' NOCREATEROLE NOSUPERUSER" &&
	su_q -c "CREATE DATABASE appdb OWNER app" || {
	not_ok "creating role app and its database"
	exit 1
}
export ALIA_DATABASE="host=127.0.0.1 port=$port dbname=appdb user=app password=$pw"
export EXT_PSQL="$bindir/psql" EXT_SOCK="$tmp/sock" EXT_PORT="$port"
nmig=$(find "${ALIA_SRCDIR:-$here/../..}/sql" -name '[0-9]*.sql' | wc -l)

# --- 1. a role without CREATEROLE -----------------------------------------
out=$(ALIA_DATA_DIR="$tmp/d0" "$ALIA" migrate 2>&1)
rc=$?
# shellcheck disable=SC2016 # the backquotes are the message's own
want='role alia_front does not exist and role app may not create it: run `CREATE ROLE alia_front NOLOGIN; GRANT alia_front TO app;` as a superuser'
[ "$rc" -ne 0 ] && ok "alia migrate stops without front's role" ||
	not_ok "alia migrate succeeded without front's role: $out"
case $out in
*"$want"*) ok "and says what a superuser must run" ;;
*) not_ok "alia migrate said: $out" ;;
esac
case $out in
*"permission denied"*) not_ok "a migration needed CREATEROLE: $out" ;;
*) ok "no migration needed CREATEROLE" ;;
esac
check "every migration applied, each once" "$nmig" \
	"$(DB=appdb su_q -c 'SELECT count(DISTINCT version) FROM public.alia_migrations')"

# alia serve stops with the same words, before it serves.
sport=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ALIA_DATA_DIR="$tmp/d1" ALIA_LISTEN="127.0.0.1:$sport" timeout 60 \
	"$ALIA" serve -d >"$tmp/serve1.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && ok "alia serve exits (status $rc)" ||
	not_ok "alia serve status $rc"
grep -qF "$want" "$tmp/serve1.log" && ok "alia serve names the missing grant" ||
	not_ok "alia serve said: $(cat "$tmp/serve1.log")"

su_q -c "CREATE ROLE alia_front NOLOGIN; GRANT alia_front TO app;" ||
	not_ok "the superuser's grant"
PYTHONPATH=$here "$here/with-server.sh" "$py" - >"$tmp/ws1.log" 2>&1 <<'PY'
import os, subprocess, time
from aliatest import Agent, WS, ok, run


def q(sql):
    r = subprocess.run([os.environ["EXT_PSQL"], "-XqAt", "-h",
                        os.environ["EXT_SOCK"], "-p", os.environ["EXT_PORT"],
                        "-U", "postgres", "-d", "appdb", "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("psql: " + r.stderr.strip())
    return r.stdout.strip()


def session():
    a = Agent()
    sid = a.create()
    ok(True, f"a session is created ({sid})")
    ws = WS(a, sid)
    ws.type("echo pre$((6*7))post\r")
    ok(ws.read_until(rb"pre42post", 60) is not None,
       "its shell answers")
    ws.close()
    st, body = a.request("GET", "/api/sessions")
    ok(st == 200 and sid.encode() in body,
       f"front lists it, as alia_front ({st})")
    found = False
    for _ in range(300):
        found = q("SELECT coalesce(position(convert_to('pre42post', 'UTF8')"
                  " in string_agg(data, ''::bytea ORDER BY seq)), 0) > 0"
                  f" FROM alia.events WHERE session_id = '{sid}'"
                  " AND kind = 'o'") == "t"
        if found:
            break
        time.sleep(0.1)
    ok(found, "its output is in the external database")
    ok(q("SELECT has_table_privilege('alia_front', 'alia.tokens', 'INSERT')"
         " AND has_table_privilege('alia_front', 'alia.shares', 'INSERT')"
         " AND has_table_privilege('alia_front', 'alia.sessions', 'SELECT')"
         " AND NOT has_table_privilege('alia_front', 'alia.events',"
         " 'INSERT')") == "t",
       "alia_front has its rights, and only those")


run(session)
PY
rc=$?
grep -E '^(not )?ok' "$tmp/ws1.log"
[ "$rc" -eq 0 ] && ok "alia serves on the external database" || {
	cat "$tmp/ws1.log"
	not_ok "alia serve on the external database (status $rc)"
}

# --- 2. the database comes up 10 s after alia -----------------------------
pg_down || not_ok "stopping postgres"
(
	sleep 10
	pg_up
) &
delayed=$!
# shellcheck disable=SC2016 # expanded by the inner shell
T0=$(date +%s) PYTHONPATH=$here "$here/with-server.sh" bash -c '
	took=$(($(date +%s) - T0))
	n=$(grep -c "the database does not answer (.*); trying again in [0-9]* s" "$ALIA_SERVER_LOG")
	echo "healthy after $took s; $n retry lines"
	grep -m 3 "the database does not answer" "$ALIA_SERVER_LOG" | sed "s/^/# /"
	[ "$took" -ge 10 ] && [ "$n" -ge 3 ] &&
		grep -q "trying again in 1 s" "$ALIA_SERVER_LOG" &&
		grep -q "trying again in 2 s" "$ALIA_SERVER_LOG" &&
		grep -q "trying again in 4 s" "$ALIA_SERVER_LOG" &&
		grep -q "the database answers after" "$ALIA_SERVER_LOG"
' >"$tmp/ws2.log" 2>&1
rc=$?
wait "$delayed"
delayed=
grep '^# ' "$tmp/ws2.log"
[ "$rc" -eq 0 ] && ok "alia waits for a database that comes up 10 s later: $(grep healthy "$tmp/ws2.log" | head -n 1)" || {
	cat "$tmp/ws2.log"
	not_ok "alia with a database 10 s late (status $rc)"
}

# --- 3. no password on a command line ---------------------------------------
TMPDIR=$tmp/ptmp ALIA_DATA_DIR="$tmp/d3" "$ALIA" psql -X -At \
	-c 'select pg_sleep(3)' -c 'select 42' >"$tmp/psql.out" 2>&1 &
ppid=$!
PW=$pw PTMP=$tmp/ptmp $py - >"$tmp/scan.log" 2>&1 <<'PY'
import os, stat, time
pw = os.environ["PW"].encode()
leaks, seen, passfile = set(), False, None
end = time.time() + 2.8
while time.time() < end:
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                c = f.read()
        except OSError:
            continue
        if pw in c:
            leaks.add(c.replace(b"\0", b" ").decode(errors="replace"))
        if b"pg_sleep(3)" in c:
            seen = True
    for f in os.listdir(os.environ["PTMP"]):
        passfile = stat.S_IMODE(os.stat(os.path.join(os.environ["PTMP"],
                                                     f)).st_mode)
    time.sleep(0.02)
print("seen" if seen else "psql not seen")
print("passfile mode %o" % passfile if passfile is not None else "no passfile")
for l in leaks:
    print("leak:", l)
PY
wait "$ppid"
rc=$?
cat "$tmp/scan.log"
check "alia psql ran" "0 42" "$rc $(tail -n 1 "$tmp/psql.out")"
grep -q '^seen' "$tmp/scan.log" && ok "psql was running during the scan" ||
	not_ok "psql not seen in /proc"
grep -q '^leak' "$tmp/scan.log" && not_ok "the password is on a command line" ||
	ok "the password is in no /proc/*/cmdline"
grep -q '^passfile mode 600' "$tmp/scan.log" && ok "it went through a mode 0600 password file" ||
	not_ok "no 0600 password file seen"
check "the password file is removed" "" "$(ls -A "$tmp/ptmp")"

echo "# $failures failure(s)"
[ "$failures" -eq 0 ]
