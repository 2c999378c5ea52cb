#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# with-server.sh CMD ARGS... — runs CMD against a fresh alia instance: starts
# `$ALIA_BIN serve -d` on a free 127.0.0.1 port with a new data_dir (its own
# embedded PostgreSQL) and a node name unique to this run, waits for
# /healthz, exports ALIA_URL, ALIA_PORT, ALIA_DATA_DIR, ALIA_NODE,
# ALIA_SERVER_PID and ALIA_SERVER_LOG, runs CMD, then stops the server with
# SIGTERM. It fails when CMD fails, when the server died early, did not exit
# cleanly within 10 s, left any process behind, or logged a sanitizer
# report; the server log is printed then. Whatever happens, leftovers are
# killed, this run's containers (label io.alia.instance=the data_dir's id)
# removed and the data_dir deleted. Other ALIA_* variables of the caller
# reach the server as configuration (e.g. ALIA_RECONNECT_GRACE=5);
# ALIA_ENVIRONMENTS is busybox alone unless set;
# ALIA_NODE=default leaves the node at its default, the host name.
set -u
ALIA=${ALIA_BIN:?ALIA_BIN must name the alia binary}
[ $# -ge 1 ] || {
	echo "usage: with-server.sh CMD [ARGS...]" >&2
	exit 2
}

me=with-server
say() { echo "$me: $*" >&2; }
ms() { echo $(($(date +%s%N) / 1000000)); }

sock=${DOCKER_HOST:-unix:///var/run/docker.sock}
sock=${sock#unix://}
if [ -S "$sock" ] && ! curl -sf --max-time 5 --unix-socket "$sock" \
	http://d/_ping >/dev/null 2>&1; then
	# script/test starts Docker; a daemon that does not answer is a failure.
	say "the Docker daemon at $sock does not answer /_ping"
	exit 1

fi

# ALIA_TEST_TMP: where the data_dir goes (a small file system a test mounted).
dir=$(mktemp -d "${ALIA_TEST_TMP:-/tmp}/alia-ws.XXXXXX") || exit 1
chmod 755 "$dir" # PostgreSQL runs as the unprivileged user below it
log="$dir/serve.log"
: >"$log"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])') || exit 1
alia_exe=$(readlink -f "$ALIA")
worker_exe=${alia_exe%/*}/alia-worker # master runs it for workers and walls
master=
failed=0
known=" "

export ALIA_DATA_DIR="$dir" ALIA_LISTEN="127.0.0.1:$port"
# Sessions run busybox unless the caller asks for more (ALIA_ENVIRONMENTS):
# tests and benchmarks read its prompt and compare with its raw stream.
export ALIA_ENVIRONMENTS="${ALIA_ENVIRONMENTS:-busybox=${ALIA_IMAGE:-alia-sandbox:latest}}"
if [ "${ALIA_NODE:-}" = default ]; then
	unset ALIA_NODE
else
	ALIA_NODE="test-$$-$(date +%s%N | tail -c 7)$RANDOM"
	export ALIA_NODE
fi
instance="" # the data_dir's instance id, once the server made it
# With ALIA_TLS_CERT and ALIA_TLS_KEY set, alia speaks HTTPS.
scheme=http
[ -n "${ALIA_TLS_CERT:-}" ] && scheme=https
export ALIA_URL="$scheme://127.0.0.1:$port" ALIA_PORT="$port"
export ALIA_SERVER_LOG="$log"

# Adds master's descendants to the set of this instance's processes.
remember_tree() {
	local add p
	[ -n "$master" ] || return 0
	add=$master
	while [ -n "$add" ]; do
		local next=
		for p in $add; do
			case $known in *" $p "*) ;; *) known="$known$p " ;; esac
			next="$next $(pgrep -P "$p" 2>/dev/null | tr '\n' ' ')"
		done
		# shellcheck disable=SC2086,SC2116 # trims the spaces
		add=$(echo $next)
	done
}

# Prints the pids of this instance still running: remembered ones that
# still run alia or postgres, anything naming the data_dir, and alia or
# postgres processes whose environment names the data_dir.
survivors() {
	local p exe out=" "
	for p in $known $(pgrep -f "$dir" 2>/dev/null) $(grep -lsz "^ALIA_DATA_DIR=$dir\$" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
		[ "$p" = "$$" ] && continue
		[ -d "/proc/$p" ] || continue
		case $out in *" $p "*) continue ;; esac
		exe=$(readlink "/proc/$p/exe" 2>/dev/null)
		[ -n "$exe" ] || continue # a zombie or gone
		case "$exe" in
		"$alia_exe" | "$worker_exe" | */postgres | */postmaster) out="$out$p " ;;
		*) tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$dir" && out="$out$p " ;;
		esac
	done
	# shellcheck disable=SC2086 # trims the spaces
	echo $out
}

# shellcheck disable=SC2317 # run by the trap
cleanup() {
	local left
	trap - EXIT INT TERM
	remember_tree
	left=$(survivors)
	# shellcheck disable=SC2086 # a list of pids
	[ -n "$left" ] && kill -9 $left 2>/dev/null
	[ -n "$instance" ] || instance=$(cat "$dir/instance" 2>/dev/null)
	[ -n "$instance" ] &&
		docker ps -aq --filter "label=io.alia.instance=$instance" 2>/dev/null |
		xargs -r docker rm -f >/dev/null 2>&1
	if [ "$failed" -ne 0 ]; then
		echo "--- server log ($log)" >&2
		cat "$log" >&2
		echo "--- end of server log" >&2
		grep -h '^not ok' "$dir/test.out" 2>/dev/null | sed "s/^/$me: failed: /" >&2
	fi
	sleep 0.2
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'failed=1; say "interrupted"; exit 130' INT TERM

"$ALIA" serve -d >>"$log" 2>&1 &
master=$!
export ALIA_SERVER_PID="$master"

t0=$(ms)
until [ "$(curl -sk --max-time 2 "$ALIA_URL/healthz" 2>/dev/null)" = ok ]; do
	if ! kill -0 "$master" 2>/dev/null; then
		say "alia serve exited before /healthz answered"
		failed=1
		exit 1
	fi
	if [ $(($(ms) - t0)) -ge 90000 ]; then
		say "/healthz did not answer within 90 s"
		failed=1
		exit 1
	fi
	sleep 0.1
done
instance=$(cat "$dir/instance")
say "alia serve (pid $master) healthy on $ALIA_URL after $(($(ms) - t0)) ms; node ${ALIA_NODE:-(the host name)}, instance $instance"
remember_tree

# The test's output also goes to a file: its failed checks are said again
# after the server log, where a truncated log (meson keeps the last 100
# lines) still shows them.
"$@" > >(tee "$dir/test.out") 2>&1
rc=$?
[ "$rc" -ne 0 ] && {
	say "$1 exited $rc"
	failed=1
}

remember_tree
if ! kill -0 "$master" 2>/dev/null; then
	say "alia serve died during the test"
	failed=1
	wait "$master" 2>/dev/null
	src=$?
else
	kill -TERM "$master"
	t0=$(ms)
	while kill -0 "$master" 2>/dev/null; do
		remember_tree
		[ $(($(ms) - t0)) -ge 10000 ] && break
		sleep 0.05
	done
	if kill -0 "$master" 2>/dev/null; then
		say "alia serve still running 10 s after SIGTERM"
		failed=1
		src=-1
	else
		wait "$master" 2>/dev/null
		src=$?
	fi
	# Children may outlive master by a moment; then nothing may remain.
	while [ -n "$(survivors)" ] && [ $(($(ms) - t0)) -lt 10000 ]; do
		sleep 0.05
	done
	left=$(survivors)
	if [ -n "$left" ]; then
		say "processes of this instance survived the shutdown:"
		ps -o pid,ppid,user,args -p "${left// /,}" >&2
		failed=1
	else
		say "stopped in $(($(ms) - t0)) ms; no process left"
	fi
fi
if [ "$src" != 0 ]; then
	say "alia serve exit status $src"
	failed=1
fi
if grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: ThreadSanitizer' "$log"; then
	say "the server log shows a sanitizer report"
	failed=1
fi
n=$(docker ps -aq --filter "label=io.alia.instance=$instance" 2>/dev/null | wc -l)
[ "$n" -gt 0 ] && say "note: $n container(s) of this run remained after shutdown; removing them"
[ "$failed" -eq 0 ] || exit 1
exit 0
