#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Many Docker engines on one alia (issue 12). engines.py starts real
# dockerds in network namespaces of this test's: p on TCP, t on TLS, b on
# TCP without the sandbox image, and h, a listener that accepts and never
# answers; then this script runs alia (with-server.sh, pool = 0) over
# several sets of engines in turn, each checked by test_engines.py:
#   spread  local, p, t: placement, labels, every shell answers; drain,
#           undrain, a drain kept over a restart (SIGUSR2)
#   image   local, b: the image copied to b, which then runs a session
#   latency local, p, t without h, then with h (and capacities): h costs
#           session creation less than 100 ms at the median, is never up
#   loss    local, p, t: p's dockerd killed and started again
# Between runs every container left on the test's engines is removed
# (with-server.sh removes the local engine's). Arguments, if any, name the
# runs to make (spread, image, latency, loss); by default all of them.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "${1:-}" != --under-engines ]; then
	exec /usr/bin/python3 "$here/engines.py" --plain p --tls t --bare b \
		--hung h -- "$here/test_engines.sh" --under-engines "$@"
fi
shift
only=" $* "

# Made here, read by test_engines.py (the base run's latencies) and by
# alia (docker_tls_dir: t's client certificates under t/).
tmp=$(mktemp -d /tmp/alia-engines-test.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/tls"
ln -s "$ALIA_TEST_ENGINE_T_CERT_PATH" "$tmp/tls/t"
export ALIA_TEST_ENGINES_TMP="$tmp" ALIA_DOCKER_TLS_DIR="$tmp/tls"
export ALIA_POOL=0 ALIA_MAX_SESSIONS_PER_USER=50

# The engines as docker = NAME=URL,... names them.
e_local=local=unix:///var/run/docker.sock
e_p=p=$ALIA_TEST_ENGINE_P_HOST
e_t=t=$ALIA_TEST_ENGINE_T_HOST
e_b=b=$ALIA_TEST_ENGINE_B_HOST
e_h=h=$ALIA_TEST_ENGINE_H_HOST

# Removes every container from the test's engines that answer (p may be
# stopped when a run failed half-way; h never answers).
clean_engines() {
	local host to
	for host in "$ALIA_TEST_ENGINE_P_HOST" "$ALIA_TEST_ENGINE_B_HOST" \
		"$ALIA_TEST_ENGINE_T_HOST"; do
		to=(DOCKER_HOST="$host")
		[ "$host" = "$ALIA_TEST_ENGINE_T_HOST" ] &&
			to+=(DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$ALIA_TEST_ENGINE_T_CERT_PATH")
		env "${to[@]}" timeout 60 docker ps -aq 2>/dev/null |
			env "${to[@]}" xargs -r timeout 60 docker rm -f >/dev/null 2>&1
	done
}

failed=()
# scenario NAME VAR=VALUE... -- ARGS: test_engines.py ARGS under a fresh
# alia with the variables set.
scenario() {
	local name=$1 vars=()
	shift
	[ "$only" = "  " ] || [[ $only == *" ${name%% *} "* ]] || return 0
	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	echo "# --- $name"
	local t0=$SECONDS
	if ! env "${vars[@]}" "$here/with-server.sh" /usr/bin/python3 \
		"$here/test_engines.py" "$@"; then
		failed+=("$name")
		echo "not ok - the $name run failed"
	fi
	echo "# $name took $((SECONDS - t0)) s"
	clean_engines
}

scenario spread ALIA_DOCKER="$e_local,$e_p,$e_t" -- spread
scenario image ALIA_DOCKER="$e_local,$e_b" -- image
caps=(ALIA_DOCKER_CAPACITY_T=2 ALIA_ENGINE_MAX_SESSIONS=5)
scenario "latency without h" "${caps[@]}" ALIA_DOCKER="$e_local,$e_p,$e_t" -- \
	latency base
scenario "latency with h" "${caps[@]}" ALIA_DOCKER="$e_local,$e_p,$e_t,$e_h" -- \
	latency hung
scenario loss ALIA_DOCKER="$e_local,$e_p,$e_t" -- loss

if [ ${#failed[@]} -gt 0 ]; then
	printf '# failed runs: %s\n' "${failed[*]}"
	exit 1
fi
echo "# every run passed"
