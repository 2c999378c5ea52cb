#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The session API and the websocket upgrade's refusals, with curl against a
# server started by with-server.sh (ALIA_URL): anonymous identities by
# cookie, ownership (403), unknown ids (404), bad bodies (400), methods
# (405), the per-user quota (429), cross-origin refusals, upgrade checks
# (400/426/403/404/410), DELETE ending a session everywhere (API, Docker,
# PostgreSQL), and /metrics. With --no-docker the server was started with
# an unreachable Docker daemon: creating a session must fail with 503 and
# the daemon's reason, and nothing else may break.
set -u
url=${ALIA_URL:?run me under with-server.sh}
host=${url#http://}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# req JAR METHOD PATH [curl args...]: prints the status; body in $tmp/body
req() {
	local jar=$1 method=$2 path=$3
	shift 3
	curl -s -o "$tmp/body" -D "$tmp/head" -w '%{http_code}' -c "$jar" \
		-b "$jar" -X "$method" "$@" "$url$path"
}
body() { cat "$tmp/body"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$tmp/body')); print($1)"; }

# ws JAR PATH [extra header lines...]: the status line of an upgrade attempt
ws() {
	local jar=$1 path=$2 cookie
	shift 2
	cookie=$(awk '$6 == "alia_id" {print $7}' "$jar" 2>/dev/null)
	{
		printf 'GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n' "$path" "$host"
		printf 'Connection: Upgrade\r\n'
		[ -n "$cookie" ] && printf 'Cookie: alia_id=%s\r\n' "$cookie"
		for h in "$@"; do printf '%s\r\n' "$h"; done
		printf '\r\n'
	} | curl -s --max-time 5 telnet://"$host" 2>/dev/null | head -1 | tr -d '\r'
}
key='Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
v13='Sec-WebSocket-Version: 13'

if [ "${1:-}" = --no-docker ]; then
	code=$(req "$tmp/a" POST /api/sessions)
	check "no Docker: POST /api/sessions is 503" 503 "$code"
	case $(body) in
	*"Docker engine"*"cannot connect to the Docker daemon"*) ok "no Docker: the answer says why: $(body)" ;;
	*) not_ok "no Docker: unclear answer: $(body)" ;;
	esac
	code=$(req "$tmp/a" GET /api/sessions)
	check "no Docker: the API still answers" 200 "$code"
	check "no Docker: /healthz" ok "$(curl -s "$url/healthz")"
	[ "$failures" -eq 0 ]
	exit
fi

# Identity and creation
code=$(req "$tmp/a" POST /api/sessions -H 'Content-Type: application/json' -d '{"cols":90,"rows":20}')
check "POST /api/sessions is 201" 201 "$code"
grep -qi '^Set-Cookie: alia_id=[0-9a-f]\{32\}; Path=/; HttpOnly; SameSite=Strict' "$tmp/head" &&
	ok "an anonymous identity arrives in an HttpOnly SameSite cookie" ||
	not_ok "no proper identity cookie: $(grep -i set-cookie "$tmp/head")"
id=$(json 'd["id"]')
[[ $id =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] &&
	ok "the session id has the form of a UUID ($id)" || not_ok "session id '$id'"

check "the ws path is given" "/ws/sessions/$id" "$(json 'd["ws"]')"
check "the size is kept" "90x20" "$(json 'str(d["cols"]) + "x" + str(d["rows"])')"
check "a new session is starting" starting "$(json 'd["state"]')"
state=
for _ in $(seq 1 100); do
	code=$(req "$tmp/a" GET "/api/sessions/$id")
	state=$(json 'd["state"]')
	[ "$state" = running ] && break
	sleep 0.1
done
check "GET /api/sessions/ID is 200" 200 "$code"
check "the session runs" running "$state"
check "its start time is set" True "$(json 'd["started_at"] is not None')"

code=$(req "$tmp/a" GET /api/sessions)
check "GET /api/sessions is 200" 200 "$code"
check "the list holds the session" "$id" "$(json '",".join(s["id"] for s in d)')"

# Another identity
code=$(req "$tmp/b" GET "/api/sessions/$id")
check "another identity: GET is 403" 403 "$code"
case $(body) in *"$id"*) not_ok "the 403 leaks the session" ;; *) ok "the 403 carries no session data" ;; esac
code=$(req "$tmp/b" DELETE "/api/sessions/$id")
check "another identity: DELETE is 403" 403 "$code"
code=$(req "$tmp/b" GET /api/sessions)
check "another identity lists nothing" "[]" "$(body)"
check "another identity: ws is 403" "HTTP/1.1 403 Forbidden" "$(ws "$tmp/b" "/ws/sessions/$id" "$key" "$v13")"
check "no identity: ws is 403" "HTTP/1.1 403 Forbidden" "$(ws "$tmp/none" "/ws/sessions/$id" "$key" "$v13")"

# Unknown and malformed ids
code=$(req "$tmp/a" GET /api/sessions/00000000-0000-4000-8000-000000000000)
check "unknown session: 404" 404 "$code"
code=$(req "$tmp/a" GET /api/sessions/not-a-session)
check "malformed id: 404" 404 "$code"
check "unknown session: ws is 404" "HTTP/1.1 404 Not Found" \
	"$(ws "$tmp/a" /ws/sessions/00000000-0000-4000-8000-000000000000 "$key" "$v13")"

# Bad bodies, methods, origins
for b in '{bad' '[1,2]' '{"cols":0}' '{"rows":100000}' '{"cols":"80"}' '{"cols":1.5}'; do
	code=$(req "$tmp/a" POST /api/sessions -d "$b")
	check "POST $b is 400 ($(body))" 400 "$code"
done
code=$(req "$tmp/a" PUT /api/sessions)
check "PUT /api/sessions is 405" 405 "$code"
grep -qi '^Allow: ' "$tmp/head" && ok "405 says what is allowed" || not_ok "405 without Allow"
code=$(req "$tmp/a" GET /api/nothing-here)
check "unknown API route: 404" 404 "$code"
code=$(req "$tmp/a" POST /api/sessions -H 'Origin: http://evil.example')
check "cross-origin POST is 403" 403 "$code"
check "cross-origin ws is 403" "HTTP/1.1 403 Forbidden" \
	"$(ws "$tmp/a" "/ws/sessions/$id" "$key" "$v13" 'Origin: http://evil.example')"
code=$(req "$tmp/a" POST /api/sessions -H "Origin: http://$host")
check "same-origin POST is 201" 201 "$code"
second=$(json 'd["id"]')

# Upgrade checks
check "ws without a key: 400" "HTTP/1.1 400 Bad Request" "$(ws "$tmp/a" "/ws/sessions/$id" "$v13")"
check "ws version 12: 426" "HTTP/1.1 426 Upgrade Required" \
	"$(ws "$tmp/a" "/ws/sessions/$id" "$key" 'Sec-WebSocket-Version: 12')"
check "ws with a bad mode: 400" "HTTP/1.1 400 Bad Request" \
	"$(ws "$tmp/a" "/ws/sessions/$id?mode=admin" "$key" "$v13")"
check "a good upgrade: 101" "HTTP/1.1 101 Switching Protocols" \
	"$(ws "$tmp/a" "/ws/sessions/$id" "$key" "$v13")"

# The quota (ALIA_MAX_SESSIONS_PER_USER=3 from meson): a and second make 2
code=$(req "$tmp/a" POST /api/sessions)
check "a third session is allowed" 201 "$code"
third=$(json 'd["id"]')
code=$(req "$tmp/a" POST /api/sessions)
check "a fourth is refused: 429" 429 "$code"
case $(body) in *"at most 3"*) ok "429 says the limit: $(body)" ;; *) not_ok "429 body: $(body)" ;; esac

# DELETE ends the session everywhere
code=$(req "$tmp/a" DELETE "/api/sessions/$id")
check "DELETE is 204" 204 "$code"
state=
for _ in $(seq 1 50); do
	req "$tmp/a" GET "/api/sessions/$id" >/dev/null
	state=$(json 'd["state"] + "/" + str(d["end_reason"])')
	[ "$state" = ended/deleted ] && break
	sleep 0.1
done
check "the deleted session is ended, reason deleted" ended/deleted "$state"
left=$(docker ps -aq --filter "label=io.alia.session=$id")
for _ in $(seq 1 50); do
	[ -z "$left" ] && break
	sleep 0.1
	left=$(docker ps -aq --filter "label=io.alia.session=$id")
done
check "its container is gone" "" "$left"
row=
for _ in $(seq 1 50); do
	row=$("$ALIA_BIN" psql -tAc "select state || '/' || end_reason || '/' || (ended_at is not null) from alia.sessions where id = '$id'" 2>/dev/null)
	[ "$row" = ended/deleted/true ] && break
	sleep 0.1
done
check "alia.sessions records the end" ended/deleted/true "$row"
check "an ended session's ws is 410" "HTTP/1.1 410 Gone" "$(ws "$tmp/a" "/ws/sessions/$id" "$key" "$v13")"
code=$(req "$tmp/a" POST /api/sessions)
check "after a delete the quota has room again" 201 "$code"
fourth=$(json 'd["id"]')

code=$(req "$tmp/a" GET /metrics)
check "/metrics is 200" 200 "$code"
created=$(awk '$1 == "alia_sessions_created_total" {print $2}' "$tmp/body")
[ "${created:-0}" -ge 4 ] && ok "/metrics counts $created sessions created" || not_ok "/metrics: created '$created'"
grep -q '^alia_docker_call_seconds_count [1-9]' "$tmp/body" && ok "/metrics has docker latency" || not_ok "no docker latency"
# Prometheus' own checker (script/bootstrap installs it) is the judge of
# the format: names, HELP and TYPE lines, counters' _total suffix.
if lint=$(promtool check metrics <"$tmp/body" 2>&1); then
	ok "promtool check metrics accepts /metrics"
else
	not_ok "promtool check metrics: $lint"
fi

for s in "$second" "$third" "$fourth"; do
	req "$tmp/a" DELETE "/api/sessions/$s" >/dev/null
done
[ "$failures" -eq 0 ]
