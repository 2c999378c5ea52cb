#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Sessions across a server's stop and start, with real Docker and
# PostgreSQL: stopping while sessions are still being created leaves no
# container behind and every row ended ('server stopped'); a new start
# removes containers an earlier run of the same node left (a crash, say)
# and closes their rows.
set -u
ALIA=${ALIA_BIN:?ALIA_BIN must name the alia binary}
dir=$(mktemp -d /tmp/alia-shutdown.XXXXXX)
chmod 755 "$dir"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
node="test-shutdown-$$-$RANDOM"
export ALIA_DATA_DIR="$dir" ALIA_LISTEN="127.0.0.1:$port" ALIA_NODE="$node"
export ALIA_MAX_SESSIONS_PER_USER=20
# A stop that ends every session: live restore has a test of its own.
export ALIA_LIVE_RESTORE=0
master=
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ms() { echo $(($(date +%s%N) / 1000000)); }
containers() { docker ps -aq --filter "label=io.alia.owner=$node" | wc -l; }
# The node's containers but those of the warm pool, which a start makes.
unpooled() {
	docker ps -a --filter "label=io.alia.owner=$node" \
		--format '{{.Label "io.alia.pool"}}' | grep -vc 1
}
cleanup() {
	[ -n "$master" ] && kill -9 "$master" 2>/dev/null
	pkill -9 -f "$dir" 2>/dev/null
	docker ps -aq --filter "label=io.alia.owner=$node" | xargs -r docker rm -f >/dev/null 2>&1
	sleep 0.2
	rm -rf "$dir"
}
trap cleanup EXIT

start() {
	"$ALIA" serve -d >>"$dir/serve.log" 2>&1 &
	master=$!
	for _ in $(seq 1 900); do
		[ "$(curl -s --max-time 1 "$url/healthz")" = ok ] && return 0
		sleep 0.1
	done
	return 1
}
stop_wait() {
	local t0
	t0=$(ms)
	kill -TERM "$master"
	while kill -0 "$master" 2>/dev/null; do
		[ $(($(ms) - t0)) -ge 15000 ] && return 1
		sleep 0.05
	done
	wait "$master" 2>/dev/null
	echo $(($(ms) - t0))
}

start || { not_ok "the server did not start"; cat "$dir/serve.log"; exit 1; }
jar=$(mktemp -p "$dir")
for _ in $(seq 1 6); do
	curl -s -o /dev/null -c "$jar" -b "$jar" -X POST "$url/api/sessions" &
done
sleep 0.5
if t=$(stop_wait); then
	ok "stopped while 6 sessions were being created, after $t ms"
else
	not_ok "the server did not stop within 15 s"
fi
wait
n=$(containers)
[ "$n" = 0 ] && ok "no container left behind" || not_ok "$n container(s) left behind"
rows=$("$ALIA" psql -tAc "select count(*) || '/' || count(*) filter (where state = 'ended') from alia.sessions" 2>/dev/null)
case $rows in
0/0) not_ok "no session rows at all" ;;
*/*) [ "${rows%/*}" = "${rows#*/}" ] && ok "every session row is ended ($rows)" || not_ok "rows total/ended: $rows" ;;
*) not_ok "psql: $rows" ;;
esac

# A container of an earlier run of this instance (as a crash would
# leave), and one of another instance with the same node, which is not
# ours to remove.
docker create --label "io.alia.owner=$node" --label io.alia.session=00000000-0000-4000-8000-000000000001 \
	--label "io.alia.instance=$(cat "$dir/instance")" \
	--network none alia-sandbox:latest /bin/sh >/dev/null
other=$(docker create --label "io.alia.owner=$node" --label io.alia.session=00000000-0000-4000-8000-000000000002 \
	--label "io.alia.instance=0123456789abcdef0123456789abcdef" \
	--network none alia-sandbox:latest /bin/sh)
"$ALIA" psql -qc "insert into alia.sessions (id, owner, image, state) values ('00000000-0000-4000-8000-000000000001', 'x', 'alia-sandbox:latest', 'running')" >/dev/null
[ "$(containers)" = 2 ] && ok "an orphan container exists before the start" || not_ok "could not make an orphan"
start || { not_ok "the second start failed"; cat "$dir/serve.log"; exit 1; }
n=2
for _ in $(seq 1 100); do
	n=$(unpooled)
	[ "$n" = 1 ] && break
	sleep 0.1
done
[ "$n" = 1 ] && [ -n "$(docker ps -aq --filter "id=$other")" ] &&
	ok "the start removed our orphan and left another instance's container" ||
	not_ok "containers of the node after the start: $n"
docker rm -f "$other" >/dev/null 2>&1
row=
for _ in $(seq 1 50); do
	row=$("$ALIA" psql -tAc "select state || '/' || end_reason from alia.sessions where id = '00000000-0000-4000-8000-000000000001'")
	[ "$row" = "ended/server restart" ] && break
	sleep 0.1
done
[ "$row" = "ended/server restart" ] && ok "its row is closed: $row" || not_ok "orphan row: '$row'"
t=$(stop_wait) && ok "second stop after $t ms" || not_ok "second stop"
master=
if [ "$failures" -ne 0 ]; then
	echo "--- serve.log"
	grep -v '^postgres' "$dir/serve.log"
	exit 1
fi
