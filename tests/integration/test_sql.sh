#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# sql/002_recording.sql against a fresh embedded cluster: synthetic
# sessions and events (invalid UTF-8, escape sequences, CRLF, lone CR,
# multi-byte characters, a string cut across two rows, i/r/m events), then
# transcript, asciicast, index_pending, search and live_sessions. When
# sourced with HOLD_ONLY=1 it only defines the helpers (test_cli.sh).
set -u
ALIA=${ALIA_BIN:?ALIA_BIN must name the alia binary}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fixture="$here/recording_fixture.py"
py=/usr/bin/python3
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALIA_DATA_DIR=$(mktemp -d /tmp/alia-sql.XXXXXX) || exit 1
export ALIA_DATA_DIR
chmod 755 "$ALIA_DATA_DIR"
tmp="$ALIA_DATA_DIR/t"
mkdir "$tmp"
holder=

q() { "$ALIA" psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# Keeps the embedded cluster up between psql calls: one `alia psql` that
# started it waits in pg_sleep; ending that backend stops the cluster.
hold_start() {
	PGAPPNAME=alia-test-hold "$ALIA" psql -X -q -c 'SELECT pg_sleep(3600)' \
		>/dev/null 2>&1 &
	holder=$!
	# Asking with `alia psql` before the cluster is ready would race the
	# holder to start it: wait for postmaster.pid to say "ready" first.
	for _ in $(seq 1 900); do
		grep -q '^ready' "$ALIA_DATA_DIR/pg/postmaster.pid" 2>/dev/null && break
		sleep 0.1
	done
	for _ in $(seq 1 900); do
		[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'alia-test-hold'" 2>/dev/null)" = 1 ] && return 0
		sleep 0.1
	done
	echo "the embedded cluster did not come up" >&2
	return 1
}
hold_stop() {
	[ -n "$holder" ] || return 0
	q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'alia-test-hold'" >/dev/null 2>&1
	# Never wait for ever: a holder not found by its name is ended.
	for _ in $(seq 1 300); do
		kill -0 "$holder" 2>/dev/null || break
		sleep 0.1
	done
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	holder=
}
cleanup() {
	hold_stop
	rm -rf "$ALIA_DATA_DIR"
}
trap cleanup EXIT

"$ALIA" migrate >"$tmp/migrate.log" 2>&1 || {
	cat "$tmp/migrate.log"
	not_ok "alia migrate"
	exit 1
}
hold_start || exit 1
last=$(find "$(dirname "$0")/../../sql" -name '[0-9]*.sql' | sed 's|.*/0*||; s|_.*||' | sort -n | tail -1)
check "the last migration ($last) is applied" "$last" "$(q -c 'SELECT max(version) FROM public.alia_migrations')"
$py "$fixture" sql >"$tmp/fixture.sql"
q -f "$tmp/fixture.sql" >/dev/null || {
	not_ok "loading the fixture"
	exit 1
}
read -r A B C <<<"$($py "$fixture" expect ids)"
[ "${HOLD_ONLY:-0}" = 1 ] && return 0

# transcript: exact text (psql adds one newline after the value)
q -c "SELECT alia.transcript('$A')" >"$tmp/tr.got"
{
	$py "$fixture" expect A_TRANSCRIPT
	echo
} >"$tmp/tr.want"
cmp -s "$tmp/tr.want" "$tmp/tr.got" && ok "transcript: escapes stripped, CRLF/CR, U+FFFD, split row joined" ||
	not_ok "transcript differs: $(diff <(od -c "$tmp/tr.want") <(od -c "$tmp/tr.got") | head -20)"
check "transcript of an unknown id is NULL" t "$(q -c "SELECT alia.transcript(gen_random_uuid()) IS NULL")"
check "transcript of a session without events is empty" "" "$(q -c "SELECT alia.transcript('$C')")"

# asciicast: every line JSON, header, events; asciicast_text the same
q -c "SELECT * FROM alia.asciicast('$A')" >"$tmp/a.cast"
q -c "SELECT alia.asciicast_text('$A')" >"$tmp/a.text"
{
	cat "$tmp/a.cast"
	echo
} | cmp -s - "$tmp/a.text" && ok "asciicast_text is the asciicast rows, one per line" ||
	not_ok "asciicast_text differs from the rows"
out=$($py - "$tmp/a.cast" "$A" <<'PY'
import json, re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")[:-1]
docs = [json.loads(l) for l in lines]
h = docs[0]
# made 80x24, resized to 100x30 at 1 s: the header has the size at the start
assert h["version"] == 2 and h["width"] == 80 and h["height"] == 24, h
assert h["timestamp"] == 1714557601, h  # started_at 2024-05-01 10:00:01Z
assert h["title"] == "alia session " + sys.argv[2], h
assert h["env"] == {"TERM": "xterm-256color"}, h
ev = docs[1:]
assert [e[0] for e in ev] == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.000001, 4.123456], ev
assert [e[1] for e in ev] == list("oiroomooo"), ev
for l in lines[1:]:
    assert re.match(r'^\[\d+\.\d{6}, "[oirm]", ', l), l
assert ev[0][2] == "hello \x1b[1;32mworld\x1b[0m\r\n", ev[0]
assert ev[1][2] == "ls\r" and ev[2][2] == "100x30", ev
assert ev[3][2] == "caf\u00e9 \ufffd\ufffd ok\r\n", ev[3]
assert ev[5][2] == "join control anon-1", ev[5]
print("ok")
PY
)
check "asciicast: valid JSON lines, header, times, kinds, data" ok "$out"
# the size at the start: a resize at t = 0 first; a row without start_cols
# (made before 006) takes its first resize, or its size if never resized
check "start size: created" "80x24" "$(q -c "SELECT cols || 'x' || rows FROM alia.start_size('$A')")"
check "start size: an old row never resized" "80x24" "$(q -c "SELECT cols || 'x' || rows FROM alia.start_size('$C')")"
q -c "BEGIN; UPDATE alia.sessions SET start_cols = NULL, start_rows = NULL WHERE id = '$A';
	SELECT cols || 'x' || rows FROM alia.start_size('$A');
	INSERT INTO alia.events VALUES ('$A', 99, 0, 'r', '120x40'::bytea);
	SELECT cols || 'x' || rows FROM alia.start_size('$A'); ROLLBACK" >"$tmp/start"
check "start size: an old row resized, then a resize at t = 0" "100x30 120x40" "$(tr '\n' ' ' <"$tmp/start" | sed 's/ $//')"
q -c "SELECT * FROM alia.asciicast('$B')" >"$tmp/b.cast"
$py "$fixture" expect B_OUTPUT >"$tmp/b.want"
$py -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8").read().split("\n")[1:-1]]
sys.stdout.buffer.write("".join(e[2] for e in ev if e[1] == "o").encode())
' "$tmp/b.cast" >"$tmp/b.got"
cmp -s "$tmp/b.want" "$tmp/b.got" && ok "asciicast: output events concatenate to the recorded bytes" ||
	not_ok "asciicast output differs from the rows: $(cmp "$tmp/b.want" "$tmp/b.got")"
check "asciicast of an unknown id has no rows" 0 "$(q -c "SELECT count(*) FROM alia.asciicast(gen_random_uuid())")"

# index_pending: fills once, then nothing; idempotent without a watermark
n1=$(q -c "SELECT alia.index_pending()")
[ "$n1" -gt 40 ] && ok "index_pending indexed $n1 rows" || not_ok "index_pending indexed '$n1' rows"
check "index_pending again adds nothing" 0 "$(q -c "SELECT alia.index_pending()")"
c1=$(q -c "SELECT count(*) FROM alia.search_text")
check "search_text has one row per output event" \
	"$(q -c "SELECT count(*) FROM alia.events e JOIN alia.sessions s ON s.id = e.session_id WHERE kind = 'o'")" "$c1"
q -c "DELETE FROM alia.search_watermark" >/dev/null
check "index_pending after losing its watermark adds nothing" 0 "$(q -c "SELECT alia.index_pending()")"
check "and leaves search_text as it was" "$c1" "$(q -c "SELECT count(*) FROM alia.search_text")"

# search: one session among twenty, whole or cut across rows
check "search finds the string cut across two rows" "dddddddd-0000-4000-8000-000000000013" \
	"$(q -c "SELECT DISTINCT session_id FROM alia.search('zebraquokka42')")"
check "one hit row for it" 1 "$(q -c "SELECT count(*) FROM alia.search('zebraquokka42')")"
case $(q -c "SELECT snippet FROM alia.search('zebraquokka42')") in
*zebraQUOKKA42*) ok "the snippet shows the hit" ;;
*) not_ok "snippet: $(q -c "SELECT snippet FROM alia.search('zebraquokka42')")" ;;
esac
check "search finds a whole string" "dddddddd-0000-4000-8000-000000000007" \
	"$(q -c "SELECT DISTINCT session_id FROM alia.search('marmot-unique-17')")"
check "search by another owner finds nothing" 0 "$(q -c "SELECT count(*) FROM alia.search('marmot-unique-17', 'alice')")"
check "LIKE wildcards are literal" 0 "$(q -c "SELECT count(*) FROM alia.search('marmot%17')")"
check "a common string is found in every bulk session once per row" 20 \
	"$(q -c "SELECT count(DISTINCT session_id) FROM alia.search('file1 file2')")"
check "escape sequences are not searchable text" 0 "$(q -c "SELECT count(*) FROM alia.search('01;34m')")"
# The cluster's locale is C: case folds ASCII only.
check "multi-byte text is found" "$A" "$(q -c "SELECT DISTINCT session_id FROM alia.search('CAFé ��')")"
case $(q -c "SET enable_seqscan = off; EXPLAIN SELECT * FROM alia.search('marmot-unique')") in
*search_text_body*) ok "search can use the trigram index" ;;
*) not_ok "search does not use the trigram index" ;;
esac

# live_sessions: the two not ended, with bytes
check "live_sessions shows only sessions not ended" "$A $($py "$fixture" expect A_BYTES)|$C 0" \
	"$(q -c "SELECT id || ' ' || bytes FROM alia.live_sessions ORDER BY id" | paste -sd'|')"
check "live_sessions has a duration" t "$(q -c "SELECT duration > interval '0' FROM alia.live_sessions WHERE id = '$A'")"

# Timing on a few MB: 4 KiB rows of colored ls-like output
q -c "INSERT INTO alia.sessions (id, owner, image, state) VALUES ('eeeeeeee-0000-4000-8000-00000000000e', 'perf', 'img', 'ended');
INSERT INTO alia.events SELECT 'eeeeeeee-0000-4000-8000-00000000000e', r, r * 1000, 'o',
  convert_to(repeat(E'\x1b[01;34mdrwxr-xr-x\x1b[0m 2 root root 4096 Jan 1 file_' || r || E'.txt\r\n', 70), 'UTF8')
  FROM generate_series(0, 1499) r;" >/dev/null
q -c "SELECT pg_size_pretty(alia.session_bytes('eeeeeeee-0000-4000-8000-00000000000e'))" | sed 's/^/# perf session: /'
q -c "\\timing on" -c "SELECT length(alia.transcript('eeeeeeee-0000-4000-8000-00000000000e'))" \
	-c "SELECT count(*) FROM alia.asciicast('eeeeeeee-0000-4000-8000-00000000000e')" \
	-c "SELECT alia.index_pending()" -c "ANALYZE alia.search_text" \
	-c "SELECT count(*) FROM alia.search('file_1433.txt')" | grep Time | paste -sd' ' |
	sed 's/^/# transcript, asciicast, index_pending, analyze, search: /'

[ "$failures" -eq 0 ]
