#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The process tree, end to end with the real binary and a real embedded
# PostgreSQL: /healthz answers; a kill -9'd front is replaced within 2 s;
# SIGTERM to master leaves no process behind within 10 s; a second start
# reuses the cluster and applies no migration twice; alia psql works; two
# masters never share a data_dir.
set -u
ALIA=${ALIA_BIN:?ALIA_BIN must name the alia binary}
dir=$(mktemp -d /tmp/alia-ptree.XXXXXX)
chmod 755 "$dir" # the unprivileged user runs PostgreSQL below it
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
export ALIA_DATA_DIR="$dir" ALIA_LISTEN="127.0.0.1:$port"
master=
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
nmig=$(find "${ALIA_SRCDIR:?}/sql" -maxdepth 1 -name "[0-9]*.sql" | wc -l)

cleanup() {
	[ -n "$master" ] && kill -9 "$master" 2>/dev/null
	pkill -9 -f "$dir" 2>/dev/null
	sleep 0.2
	rm -rf "$dir"
}
trap cleanup EXIT

ms() { echo $(($(date +%s%N) / 1000000)); }

# Waits up to $1 ms for /healthz to answer 200 ok; prints the ms it took.
wait_healthy() {
	local t0 now body
	t0=$(ms)
	while :; do
		body=$(curl -s --max-time 1 "$url/healthz" 2>/dev/null)
		if [ "$body" = "ok" ]; then
			echo $(($(ms) - t0))
			return 0
		fi
		now=$(ms)
		[ $((now - t0)) -ge "$1" ] && return 1
		sleep 0.05
	done
}

start() {
	"$ALIA" serve -d >>"$dir/serve.log" 2>&1 &
	master=$!
}

# Waits up to $1 ms until nothing of this instance runs any more.
wait_gone() {
	local t0
	t0=$(ms)
	while kill -0 "$master" 2>/dev/null || pgrep -f "$dir" >/dev/null; do
		[ $(($(ms) - t0)) -ge "$1" ] && return 1
		sleep 0.05
	done
	echo $(($(ms) - t0))
}

start
if t=$(wait_healthy 90000); then
	ok "first start: /healthz answered after $t ms (initdb included)"
else
	not_ok "first start: /healthz never answered"
	cat "$dir/serve.log"
	exit 1
fi
[ "$(curl -s "$url/healthz")" = ok ] && ok "/healthz body is ok" || not_ok "/healthz body"

n=$("$ALIA" psql -tAc 'select count(*) from public.alia_migrations' 2>&1)
[ "$n" = "$nmig" ] && ok "$nmig migrations recorded" || not_ok "migrations: got '$n', want $nmig"
out=$("$ALIA" psql -tAc 'select 1' 2>&1)
[ "$out" = 1 ] && ok "alia psql -c 'select 1' works" || not_ok "alia psql: '$out'"
cols=$("$ALIA" psql -tAc "select string_agg(column_name, ',' order by ordinal_position) from information_schema.columns where table_schema='alia' and table_name='events'" 2>&1)
[ "$cols" = "session_id,seq,t_us,kind,data" ] && ok "alia.events has the designed columns" || not_ok "alia.events columns: '$cols'"
owner=$(ps -o user= -p "$(pgrep -f "postgres -D $dir/pg" | head -1)" 2>/dev/null | tr -d ' ')
if [ "$(id -u)" = 0 ]; then
	[ "$owner" = alia ] && ok "postgres runs as the unprivileged user" || not_ok "postgres runs as '$owner'"
	fowner=$(ps -o user= -p "$(pgrep -P "$master" -f 'alia: front')" | tr -d ' ')
	[ "$fowner" = alia ] && ok "front runs as the unprivileged user" || not_ok "front runs as '$fowner'"
fi
pg_listen=$("$ALIA" psql -tAc 'show listen_addresses' 2>&1)
[ -z "$pg_listen" ] && ok "postgres listens on no TCP address" || not_ok "postgres listen_addresses='$pg_listen'"

# A second master on the same data_dir is refused.
if out=$(timeout 20 "$ALIA" serve -d 2>&1); then
	not_ok "a second master on the same data_dir started"
else
	case $out in
	*"another alia"*) ok "a second master on the same data_dir is refused" ;;
	*) not_ok "second master failed without saying why: $out" ;;
	esac
fi

front=$(pgrep -P "$master" -f 'alia: front')
if [ -z "$front" ]; then
	not_ok "no front child of master $master"
else
	kill -9 "$front"
	if t=$(wait_healthy 2000); then
		new=$(pgrep -P "$master" -f 'alia: front')
		if [ -n "$new" ] && [ "$new" != "$front" ]; then
			ok "front killed with -9 was replaced; /healthz back after $t ms"
		else
			not_ok "front pid after kill: '$new' (was $front)"
		fi
	else
		not_ok "/healthz not back within 2 s after kill -9 of front"
	fi
	grep -q "front was killed by signal 9; restarting" "$dir/serve.log" &&
		ok "the restart is logged" || not_ok "no restart line in the log"
fi

# PostgreSQL dies: master starts it again and the database answers.
pgpid=$(pgrep -f "postgres -D $dir/pg" | head -1)
kill -9 "$pgpid"
t0=$(ms)
out=
while [ $(($(ms) - t0)) -lt 20000 ]; do
	out=$("$ALIA" psql -tAc 'select count(*) from public.alia_migrations' 2>/dev/null) && [ "$out" = "$nmig" ] && break
	sleep 0.2
done
newpg=$(pgrep -f "postgres -D $dir/pg" | head -1)
if [ "$out" = "$nmig" ] && [ -n "$newpg" ] && [ "$newpg" != "$pgpid" ]; then
	ok "postgres killed with -9 was restarted; the database answered after $(($(ms) - t0)) ms"
else
	not_ok "postgres after kill -9: pid '$newpg' (was $pgpid), query gave '$out'"
fi
grep -q "postgres was killed by signal 9; restarting" "$dir/serve.log" &&
	ok "the postgres restart is logged" || not_ok "no postgres restart line in the log"
[ "$(curl -s "$url/healthz")" = ok ] && ok "/healthz still answers" || not_ok "/healthz after the postgres restart"

kill -TERM "$master"
if t=$(wait_gone 10000); then
	ok "SIGTERM: master, front and postgres gone after $t ms"

else
	not_ok "SIGTERM: still running after 10 s:"
	# Every process, with its arguments, for the log: not just pids.
	# shellcheck disable=SC2009
	ps -eo pid,ppid,args | grep -e "$dir" -e 'alia: ' | grep -v grep
fi
wait "$master" 2>/dev/null
rc=$?
[ "$rc" = 0 ] && ok "master exited 0" || not_ok "master exit status $rc"

before=$(grep -c "migrate: applied" "$dir/serve.log")
out=$("$ALIA" migrate 2>&1)
case $out in
*"0 migrations applied"*) ok "alia migrate on a migrated database applies nothing" ;;
*) not_ok "alia migrate: $out" ;;
esac

start
if t=$(wait_healthy 60000); then
	ok "second start: /healthz after $t ms"
else
	not_ok "second start: /healthz never answered"
	tail -20 "$dir/serve.log"
fi
after=$(grep -c "migrate: applied" "$dir/serve.log")
inits=$(grep -c "initialising the embedded PostgreSQL" "$dir/serve.log")
[ "$before" = "$nmig" ] && [ "$after" = "$nmig" ] && ok "no migration applied twice" ||
	not_ok "migrations applied: first run $before, after restart $after"
[ "$inits" = 1 ] && ok "the second start reused the cluster" || not_ok "initdb ran $inits times"
n=$("$ALIA" psql -tAc 'select count(*) from public.alia_migrations' 2>&1)
[ "$n" = "$nmig" ] && ok "still $nmig migrations recorded" || not_ok "migrations: '$n'"

kill -INT "$master"
if t=$(wait_gone 10000); then
	ok "SIGINT: everything gone after $t ms"
else
	not_ok "SIGINT: still running after 10 s"
fi
master=

if [ "$failures" -ne 0 ]; then
	echo "--- serve.log"
	cat "$dir/serve.log"
	exit 1
fi
