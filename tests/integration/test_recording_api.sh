#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# GET /api/sessions/ID/recording and GET /api/recordings[?q=] under
# with-server.sh: owner checks (403 with no data, 404), the asciicast
# header, the caller's list, search by output. Events are added with
# `alia psql` so that the answers are known whatever the recorder does.
set -u
url=${ALIA_URL:?run me under with-server.sh}
ALIA=${ALIA_BIN:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
req() {
	local jar=$1 path=$2
	curl -s -o "$tmp/body" -D "$tmp/head" -w '%{http_code}' -c "$jar" -b "$jar" "$url$path"
}
json() { /usr/bin/python3 -c "import json; d=json.load(open('$tmp/body')); print($1)"; }
q() { "$ALIA" psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

code=$(curl -s -o "$tmp/body" -w '%{http_code}' -c "$tmp/a" -b "$tmp/a" -X POST "$url/api/sessions")
check "a session is created" 201 "$code"
id=$(json 'd["id"]')
for _ in $(seq 1 100); do
	[ "$(q -c "SELECT count(*) FROM alia.sessions WHERE id = '$id'")" = 1 ] && break
	sleep 0.1
done
word="pangolin$RANDOM$RANDOM"
q -c "INSERT INTO alia.events VALUES ('$id', 1000000, 1, 'o', convert_to('say $word'||chr(13)||chr(10), 'UTF8')) ON CONFLICT DO NOTHING; SELECT alia.index_pending();" >/dev/null

code=$(req "$tmp/a" "/api/sessions/$id/recording")
check "own recording is 200" 200 "$code"
grep -qi '^Content-Type: application/x-asciicast' "$tmp/head" && ok "as application/x-asciicast" || not_ok "content type: $(cat "$tmp/head")"
grep -qi "^Content-Disposition: inline; filename=\"alia-$id.cast\"" "$tmp/head" && ok "with a file name" || not_ok "disposition: $(cat "$tmp/head")"
out=$(/usr/bin/python3 - "$tmp/body" "$id" "$word" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
assert lines[-1] == "", "the document ends in a newline"
docs = [json.loads(l) for l in lines[:-1]]
h = docs[0]
assert h["version"] == 2 and h["title"] == "alia session " + sys.argv[2], h
assert h["width"] > 0 and h["height"] > 0 and h["timestamp"] > 1.6e9, h
assert all(isinstance(e, list) and len(e) == 3 for e in docs[1:]), docs
assert any(sys.argv[3] in e[2] for e in docs[1:] if e[1] == "o"), docs
print("ok")
PY
)
check "it is asciicast v2 with the recorded output" ok "$out"

code=$(req "$tmp/b" "/api/sessions/$id/recording")
check "another identity gets 403" 403 "$code"
grep -q "$word" "$tmp/body" && not_ok "403 leaked data" || ok "and no data"
code=$(req "$tmp/a" "/api/sessions/00000000-0000-4000-8000-000000000000/recording")
check "an unknown session is 404" 404 "$code"
code=$(req "$tmp/a" "/api/sessions/nonsense/recording")
check "a malformed id is 404" 404 "$code"

# The shell's first output may still be on its way: compare once the
# recorded bytes have stopped changing.
last=-1
for _ in $(seq 1 50); do
	now=$(q -c "SELECT alia.session_bytes('$id')")
	[ "$now" = "$last" ] && break
	last=$now
	sleep 0.7
done
code=$(req "$tmp/a" /api/recordings)
check "/api/recordings is 200" 200 "$code"
check "it lists my session" "$id" "$(json '",".join(s["id"] for s in d)')"
check "with its bytes" "$(q -c "SELECT alia.session_bytes('$id')")" "$(json 'd[0]["bytes"]')"
code=$(req "$tmp/b" /api/recordings)
check "another identity's list" "200 " "$code $(json '",".join(s["id"] for s in d)')"
code=$(req "$tmp/a" "/api/recordings?q=$word")
check "search by output finds it" "200 $id" "$code $(json '",".join(s["id"] for s in d)')"
case $(json 'd[0]["snippet"]') in *"$word"*) ok "with a snippet" ;; *) not_ok "snippet: $(cat "$tmp/body")" ;; esac
code=$(req "$tmp/a" "/api/recordings?q=nomatch$RANDOM$RANDOM")
check "a search without match is []" "200 []" "$code $(cat "$tmp/body")"
code=$(req "$tmp/b" "/api/recordings?q=$word")
check "another identity's search does not find it" "200 []" "$code $(cat "$tmp/body")"

[ "$failures" -eq 0 ]
