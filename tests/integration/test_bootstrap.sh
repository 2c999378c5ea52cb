#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The fresh machine, without one: runs the `packages` step of
# script/bootstrap with fakes first on PATH. dpkg-query knows no package,
# apt-get only writes its arguments to a file, id says root, and node is
# absent or too old; the real apt-cache answers `policy` (an installed
# package is its own candidate, so this needs no network). Bootstrap must
# ask `apt-get install` for every package of its PACKAGES list and succeed.
# Then: a package without a candidate (a fake apt-cache) stops it with
# that package named and nothing installed; a node >= 18 keeps Debian's
# nodejs and npm out; a machine with everything installed runs no apt-get.
#   test_bootstrap.sh [BOOTSTRAP]   (default: script/bootstrap of the repo)
set -u
src=${ALIA_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
bootstrap=${1:-$src/script/bootstrap}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The PACKAGES=( ... ) list, as bootstrap declares it.
mapfile -t packages < <(sed -n '/^PACKAGES=(/,/^)/p' "$bootstrap" |
	sed '1d;$d' | tr -s ' \t' '\n' | sed '/^$/d')
[ ${#packages[@]} -gt 10 ] || {
	not_ok "could not read PACKAGES from $bootstrap (${#packages[@]} names)"
	exit 1
}

fake=$tmp/bin
mkdir -p "$fake"
# dpkg-query: installed (ALL_INSTALLED=1) or knowing nothing, as dpkg-query
# says for unknown packages.
cat >"$fake/dpkg-query" <<'EOF'
#!/bin/sh
[ "${FAKE_ALL_INSTALLED:-0}" = 1 ] || {
	echo "dpkg-query: no packages found matching $*" >&2
	exit 1
}
while [ $# -gt 0 ]; do
	case $1 in -*) ;; *) echo "$1 install ok installed" ;; esac
	shift
done
EOF
cat >"$fake/apt-get" <<'EOF'
#!/bin/sh
echo "$*" >>"$FAKE_APT_LOG"
EOF
cat >"$fake/id" <<'EOF'
#!/bin/sh
[ "$1" = -u ] && [ $# = 1 ] && { echo 0; exit 0; }
exec /usr/bin/id "$@"
EOF
# node and npm: a version from FAKE_NODE_MAJOR.
cat >"$fake/node" <<'EOF'
#!/bin/sh
echo "${FAKE_NODE_MAJOR:-12}"
EOF
printf '#!/bin/sh\necho 9.0.0\n' >"$fake/npm"
# apt-cache for the no-candidate case only: none for FAKE_NO_CANDIDATE.
mkdir -p "$tmp/nocand"
cat >"$tmp/nocand/apt-cache" <<'EOF'
#!/bin/bash
[ "$1" = policy ] || exec /usr/bin/apt-cache "$@"
shift
args=()
for p in "$@"; do
	if [ "$p" = "$FAKE_NO_CANDIDATE" ]; then
		printf '%s:\n  Installed: (none)\n  Candidate: (none)\n' "$p"
	else
		args+=("$p")
	fi
done
[ ${#args[@]} -eq 0 ] || exec /usr/bin/apt-cache policy "${args[@]}"
EOF
chmod +x "$fake"/* "$tmp/nocand/apt-cache"

# run NAME [VAR=value...]: the packages step; output in $tmp/NAME.out,
# apt-get's calls in $tmp/NAME.apt, the exit status printed.
run() {
	local name=$1
	shift
	: >"$tmp/$name.apt"
	env PATH="$fake:$PATH" FAKE_APT_LOG="$tmp/$name.apt" "$@" \
		bash "$bootstrap" packages >"$tmp/$name.out" 2>&1
	echo $?
}

# install_line APTLOG: the arguments of the `apt-get install` call, one a line
install_args() {
	grep '^install ' "$1" | head -1 | tr ' ' '\n' | grep -v '^-\|^install$\|^$'
}

# 1. Nothing installed: every package asked for, and the step succeeds.
check "fresh machine: the packages step exits 0" 0 "$(run fresh)"
grep -q '^update' "$tmp/fresh.apt" &&
	ok "fresh machine: apt-get update runs" ||
	not_ok "fresh machine: no apt-get update: $(cat "$tmp/fresh.apt")"
missing=()
for p in "${packages[@]}"; do
	install_args "$tmp/fresh.apt" | grep -qx -- "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	ok "fresh machine: apt-get install asked for all ${#packages[@]} packages"
else
	not_ok "fresh machine: apt-get install not asked for: ${missing[*]}"
	sed 's/^/# /' "$tmp/fresh.out"
fi
check "fresh machine: exactly the PACKAGES list" "${#packages[@]}" \
	"$(install_args "$tmp/fresh.apt" | sort -u | wc -l)"

# 2. One package without a candidate: a clear stop naming it.
gone=libwslay-dev
code=$(run nocand PATH="$tmp/nocand:$fake:$PATH" FAKE_NO_CANDIDATE=$gone)
[ "$code" != 0 ] && ok "no candidate: the step fails ($code)" ||
	not_ok "no candidate: the step succeeded"
grep -q "not available from apt: $gone\$" "$tmp/nocand.out" &&
	ok "no candidate: the message names $gone and only it" ||
	not_ok "no candidate: unclear message: $(cat "$tmp/nocand.out")"
grep -q '^install' "$tmp/nocand.apt" &&
	not_ok "no candidate: apt-get install ran anyway" ||
	ok "no candidate: nothing installed"

# 3. A node >= 18 of its own: Debian's nodejs and npm stay out.
check "own node: exits 0" 0 "$(run ownnode FAKE_NODE_MAJOR=20)"
got=$(install_args "$tmp/ownnode.apt" | grep -cx 'nodejs\|npm')
check "own node: nodejs and npm not asked for" 0 "$got"
check "own node: the rest asked for" "$((${#packages[@]} - 2))" \
	"$(install_args "$tmp/ownnode.apt" | sort -u | wc -l)"

# 4. Everything installed: no apt-get at all.
check "all installed: exits 0" 0 "$(run installed FAKE_ALL_INSTALLED=1)"
check "all installed: apt-get never runs" "" "$(cat "$tmp/installed.apt")"

# An unknown step is refused before anything runs.
code=$(env PATH="$fake:$PATH" FAKE_APT_LOG="$tmp/x.apt" \
	bash "$bootstrap" packges >"$tmp/bad.out" 2>&1; echo $?)
[ "$code" != 0 ] && grep -q "unknown step 'packges'" "$tmp/bad.out" &&
	ok "an unknown step is refused" ||
	not_ok "unknown step: exit $code: $(cat "$tmp/bad.out")"

[ "$failures" -eq 0 ]
