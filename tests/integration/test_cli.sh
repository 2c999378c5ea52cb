#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# `alia session list|export|kill` with the server stopped, on the fixture
# of test_sql.sh: the list shows the rows, export gives what the SQL
# functions give, unknown ids fail with a message and exit 1.
set -u
HOLD_ONLY=1
# shellcheck source=test_sql.sh
. "$(dirname "$0")/test_sql.sh" || exit 1
hold_stop # the commands start the cluster themselves

# run NAME: runs the rest, stdout in $tmp/out, stderr in $tmp/err
run() { "$@" >"$tmp/out" 2>"$tmp/err"; }

# `alia -n` prints the pg_bin it uses: the newest installed when unset.
newest=$(for d in /usr/lib/postgresql/*/bin; do [ -x "$d/postgres" ] && echo "$d"; done | sort -t/ -k5,5n | tail -1)
check "alia -n prints the pg_bin it uses" "pg_bin = $newest" "$(env -u ALIA_PG_BIN "$ALIA" -n | grep '^pg_bin = ')"
check "alia -n prints a pg_bin that is set" "pg_bin = /opt/pg/bin" "$(ALIA_PG_BIN=/opt/pg/bin "$ALIA" -n | grep '^pg_bin = ')"

run "$ALIA" session list
check "session list exits 0" 0 $?
out=$(cat "$tmp/out")
head -1 "$tmp/out" | grep -q '^ID  *OWNER  *STATE  *CREATED  *DURATION  *EXIT  *END REASON  *BYTES$' &&
	ok "session list has a header" || not_ok "session list header: $(head -1 "$tmp/out")"
check "session list has every session (3 + 20)" 23 "$(($(wc -l <"$tmp/out") - 1))"
grep -q "^$B  *bob  *ended  *2024-05-01 09:00:00Z  *00:01:00  *3  *exited  *$(wc -c < <($py "$fixture" expect B_OUTPUT))$" "$tmp/out" &&
	ok "an ended session's row" || not_ok "no row for $B: $out"
grep -q "^$A  *alice  *running .* -  *-  *$($py "$fixture" expect A_BYTES)$" "$tmp/out" &&
	ok "a running session's row" || not_ok "no row for $A: $out"
check "newest first" "$C" "$(sed -n 2p "$tmp/out" | cut -d' ' -f1)"

hold_start || exit 1
q -c "SELECT alia.transcript('$A')" >"$tmp/tr.sql"
q -c "SELECT alia.asciicast_text('$A')" >"$tmp/cast.sql"
hold_stop
run "$ALIA" session export "$A" --format text
check "export --format text exits 0" 0 $?
{
	cat "$tmp/out"
	echo
} | cmp -s - "$tmp/tr.sql" && ok "export --format text is alia.transcript" ||
	not_ok "export text differs: $(head -c 300 "$tmp/out")"
run "$ALIA" session export "$A"
check "export exits 0" 0 $?
{
	cat "$tmp/out"
	echo
} | cmp -s - "$tmp/cast.sql" && ok "export (cast) is alia.asciicast_text" ||
	not_ok "export cast differs: $(head -c 300 "$tmp/out")"
run "$ALIA" session export "$A" --format cast
cmp -s "$tmp/out" <(head -c -1 "$tmp/cast.sql") && ok "--format cast is the default" || not_ok "--format cast differs"

for bad in 00000000-0000-4000-8000-000000000000 not-an-id; do
	run "$ALIA" session export "$bad"
	check "export of unknown '$bad' exits 1" 1 $?
	grep -q "no such session" "$tmp/err" && ok "and says so" || not_ok "export message: $(cat "$tmp/err")"
	[ -s "$tmp/out" ] && not_ok "export of an unknown id wrote: $(cat "$tmp/out")"
	run "$ALIA" session kill "$bad"
	check "kill of unknown '$bad' exits 1" 1 $?
	grep -q "no such session" "$tmp/err" && ok "and says so" || not_ok "kill message: $(cat "$tmp/err")"
done
run "$ALIA" session kill "$B"
check "kill of an ended session exits 1" 1 $?
grep -q "already ended" "$tmp/err" && ok "and says so" || not_ok "kill message: $(cat "$tmp/err")"
run "$ALIA" session export "$A" --format xml
check "an unknown format is a usage error" 2 $?

[ "$failures" -eq 0 ]
