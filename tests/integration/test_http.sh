#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# HTTP the way clients expect it, with curl against a server started by
# with-server.sh (ALIA_URL, max_body = 4k): static files gzip-compressed
# for clients that accept it, ETag and Last-Modified with 304, content-
# hashed assets cached for a year, pages revalidated; chunked request
# bodies; Expect: 100-continue; 501 for unknown methods; 405 with the
# Allow list the route really has; API errors as JSON objects.
set -u
url=${ALIA_URL:?run me under with-server.sh}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# get PATH [curl args...]: prints the status; head in $tmp/head, body in
# $tmp/body (as sent, not decompressed)
get() {
	local path=$1
	shift
	: >"$tmp/body" # curl writes nothing for a response without a body
	curl -s -o "$tmp/body" -D "$tmp/head" -w '%{http_code}' "$@" "$url$path"
}
# hdr NAME: the value of header NAME in $tmp/head (the last response's)
hdr() {
	tr -d '\r' <"$tmp/head" | awk -v n="$1" '
		/^HTTP\// { v = "" }
		tolower(substr($0, 1, length(n) + 1)) == tolower(n) ":" {
			v = substr($0, length(n) + 2); sub(/^[ \t]+/, "", v)
		}
		END { print v }'
}
size() { stat -c %s "$1"; }
# is_json_error: the body is {"error": "<non-empty string>"} and JSON
is_json_error() {
	/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if isinstance(d, dict) and isinstance(d.get("error"), str)
    and d["error"] else 1)' "$tmp/body" 2>/dev/null
}

# --- the page: gzip, validators, no-cache ------------------------------
check "GET / without gzip" 200 "$(get / -H 'Accept-Encoding: identity')"
cp "$tmp/body" "$tmp/index.html"
plain=$(size "$tmp/body")
etag=$(hdr ETag)
lastmod=$(hdr Last-Modified)
check "the page: no Content-Encoding without gzip" "" "$(hdr Content-Encoding)"
check "the page: Cache-Control" no-cache "$(hdr Cache-Control)"
check "the page: Vary" Accept-Encoding "$(hdr Vary)"
[[ $etag =~ ^\"[^\"]+\"$ ]] && ok "the page has an ETag ($etag)" ||
	not_ok "no ETag: '$etag'"
[ -n "$lastmod" ] && ok "the page has a Last-Modified ($lastmod)" ||
	not_ok "no Last-Modified"

check "GET / with gzip" 200 "$(get / -H 'Accept-Encoding: gzip, deflate, br')"
check "the page: Content-Encoding" gzip "$(hdr Content-Encoding)"
check "the page, gzipped: Vary" Accept-Encoding "$(hdr Vary)"
check "the page, gzipped: Content-Length is the gzip's" "$(size "$tmp/body")" \
	"$(hdr Content-Length)"
gzetag=$(hdr ETag)
[ -n "$gzetag" ] && [ "$gzetag" != "$etag" ] &&
	ok "the gzip copy has an ETag of its own ($gzetag)" ||
	not_ok "gzip ETag '$gzetag' vs '$etag'"
if gzip -dc "$tmp/body" >"$tmp/unzipped" 2>/dev/null &&
	cmp -s "$tmp/unzipped" "$tmp/index.html"; then
	ok "the gzip copy is the page ($(size "$tmp/body") bytes for $plain)"
else
	not_ok "the gzip copy is not the page"
fi
check "curl --compressed gets the page" "$(cat "$tmp/index.html")" \
	"$(curl -s --compressed "$url/")"
check "gzip;q=0 gets the plain page" "" \
	"$(get / -H 'Accept-Encoding: gzip;q=0, deflate' >/dev/null; hdr Content-Encoding)"

check "If-None-Match with the ETag: 304" 304 \
	"$(get / -H 'Accept-Encoding: identity' -H "If-None-Match: $etag")"
check "a 304 has no body" 0 "$(size "$tmp/body")"
check "the 304 repeats the ETag" "$etag" "$(hdr ETag)"
check "If-None-Match with the gzip ETag, gzip: 304" 304 \
	"$(get / --compressed -H "If-None-Match: $gzetag")"
check "If-None-Match with another ETag: 200" 200 \
	"$(get / -H 'If-None-Match: "nope"')"
check "If-Modified-Since Last-Modified: 304" 304 \
	"$(get / -H "If-Modified-Since: $lastmod")"
check "If-Modified-Since long ago: 200" 200 \
	"$(get / -H 'If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT')"
check "HEAD / 200 with the ETag" "200 $etag" \
	"$(get / -I -H 'Accept-Encoding: identity') $(hdr ETag)"

# --- content-hashed assets -------------------------------------------------
assets=$(grep -o '\(src\|href\)="[^"]*\.[0-9a-f]\{12\}\.\(js\|css\)"' "$tmp/index.html" |
	sed 's/.*="\([^"]*\)"/\1/')
for want in 'xterm\.[0-9a-f]*\.js' 'app\.[0-9a-f]*\.js' 'app\.[0-9a-f]*\.css' 'xterm\.[0-9a-f]*\.css'; do
	grep -q "^$want\$" <<<"$assets" && ok "the page refers to $(grep "^$want\$" <<<"$assets")" ||
		not_ok "the page does not refer to a hashed $want: $assets"
done
xterm=$(grep '^xterm\.[0-9a-f]*\.js$' <<<"$assets")
check "the hashed xterm.js" 200 "$(get "/$xterm" -H 'Accept-Encoding: identity')"
plainjs=$(size "$tmp/body")
check "hashed: Cache-Control" "public, max-age=31536000, immutable" \
	"$(hdr Cache-Control)"
check "hashed: JavaScript" "text/javascript; charset=utf-8" "$(hdr Content-Type)"
h=${xterm#xterm.}
[ "$(sha256sum <"$tmp/body" | cut -c1-12)" = "${h%.js}" ] &&
	ok "the name's hash is the content's" || not_ok "the name's hash is not the content's"
check "hashed, gzip" 200 "$(get "/$xterm" -H 'Accept-Encoding: gzip')"
check "hashed, gzip: Content-Encoding" gzip "$(hdr Content-Encoding)"
gzjs=$(size "$tmp/body")
[ "$gzjs" -lt "$((plainjs / 2))" ] &&
	ok "xterm.js: $gzjs bytes gzipped for $plainjs" ||
	not_ok "xterm.js gzipped is $gzjs bytes for $plainjs"
check "the unhashed name is gone" 404 "$(get /xterm.js)"

# A whole first page load, as a browser that accepts gzip fetches it.
total=0
for p in / $assets; do
	get "/${p#/}" -H 'Accept-Encoding: gzip, deflate, br' >/dev/null
	total=$((total + $(size "$tmp/body")))
done
ok "a first load of / is $total bytes (measured, no bound)"

# --- request bodies ----------------------------------------------------------
body='{"cols":91,"rows":21}'
code=$(get /api/sessions -c "$tmp/jar" -b "$tmp/jar" -X POST \
	-H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
	--data-binary "$body")
check "a chunked POST /api/sessions is 201" 201 "$code"
id=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("id",""), d.get("cols"), d.get("rows"))' "$tmp/body" 2>/dev/null)
check "the chunked body was read (the size is kept)" "91 21" "${id#* }"
id=${id%% *}

# Over 1 KiB curl sends Expect: 100-continue by itself; force it anyway.
pad=$(head -c 2000 /dev/zero | tr '\0' ' ')
printf '{"cols":92,"rows":22}%s' "$pad" >"$tmp/big.json"
code=$(curl -s -o "$tmp/body" -D "$tmp/head" -w '%{http_code}' \
	-c "$tmp/jar" -b "$tmp/jar" -H 'Expect: 100-continue' \
	-H 'Content-Type: application/json' --expect100-timeout 5 \
	--data-binary @"$tmp/big.json" "$url/api/sessions")
check "POST with Expect: 100-continue is 201" 201 "$code"
grep -q '^HTTP/1.1 100 Continue' "$tmp/head" &&
	ok "the server said 100 Continue first" ||
	not_ok "no 100 Continue: $(tr -d '\r' <"$tmp/head" | head -3)"
id2=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("id",""))' "$tmp/body" 2>/dev/null)

# Too large: refused at once, before the body (curl would wait 5 s).
head -c 5000 /dev/zero | tr '\0' ' ' >"$tmp/huge.json"
start=$(date +%s%N)
code=$(curl -s -o "$tmp/body" -D "$tmp/head" -w '%{http_code}' \
	-H 'Expect: 100-continue' --expect100-timeout 5 \
	--data-binary @"$tmp/huge.json" "$url/api/sessions")
ms=$((($(date +%s%N) - start) / 1000000))
check "Expect: 100-continue with a body over max_body is 413" 413 "$code"
grep -q '^HTTP/1.1 100' "$tmp/head" && not_ok "a 100 came before the 413" ||
	ok "no 100 before the 413"
[ "$ms" -lt 4000 ] && ok "the 413 came at once (${ms} ms)" ||
	not_ok "the 413 took ${ms} ms"
is_json_error && ok "the 413 under /api/ is JSON: $(cat "$tmp/body")" ||
	not_ok "the 413 is not JSON: $(cat "$tmp/body")"
check "chunked over max_body is 413" 413 \
	"$(get /api/sessions -X POST -H 'Transfer-Encoding: chunked' \
		--data-binary @"$tmp/huge.json")"
check "Expect: something else is 417" 417 \
	"$(get /api/sessions -X POST -H 'Expect: 200-ok' -d '{}')"

# --- methods -----------------------------------------------------------------
check "an unknown method is 501" 501 "$(get / -X BREW)"
check "an unknown method on the API is 501" 501 "$(get /api/sessions -X BREW)"
is_json_error && ok "the API's 501 is JSON" || not_ok "501 body: $(cat "$tmp/body")"
for m in DELETE PUT PATCH; do
	check "$m /api/sessions is 405" 405 "$(get /api/sessions -X "$m")"
	check "$m /api/sessions: Allow" "GET, POST" "$(hdr Allow)"
	is_json_error && ok "$m /api/sessions: a JSON error" ||
		not_ok "$m /api/sessions body: $(cat "$tmp/body")"
done
check "PUT /api/sessions/ID is 405" 405 "$(get "/api/sessions/$id" -X PUT)"
check "PUT /api/sessions/ID: Allow" "GET, DELETE" "$(hdr Allow)"
check "GET /api/login is 405" 405 "$(get /api/login)"
check "GET /api/login: Allow" "POST" "$(hdr Allow)"
check "GET /api/sessions/ID/shares/NAME is 405" 405 \
	"$(get "/api/sessions/$id/shares/0123456789abcdef")"
check "GET /api/sessions/ID/shares/NAME: Allow" "DELETE" "$(hdr Allow)"
check "PUT /metrics is 405" 405 "$(get /metrics -X PUT)"
check "PUT /metrics: Allow" "GET, HEAD" "$(hdr Allow)"
check "PUT / is 405" 405 "$(get / -X PUT)"
check "PUT /: Allow" "GET, HEAD" "$(hdr Allow)"

# --- API errors are JSON -----------------------------------------------------
check "an unknown API route is 404" 404 "$(get /api/nothing)"
is_json_error && ok "its 404 is JSON" || not_ok "404 body: $(cat "$tmp/body")"
long=$(printf 'x%.0s' {1..201})
check "a path segment too long is 400" 400 "$(get "/api/sessions/$long$long")"
is_json_error && ok "its 400 is JSON" || not_ok "400 body: $(cat "$tmp/body")"
check "a search too long is 400" 400 \
	"$(get "/api/recordings?q=$long" -b "$tmp/jar")"
is_json_error && ok "its 400 is JSON" || not_ok "400 body: $(cat "$tmp/body")"
check "a bad Content-Length under /api/ is 400" 400 \
	"$(get /api/sessions -X POST -H 'Content-Length: x')"
is_json_error && ok "the parser's 400 under /api/ is JSON" ||
	not_ok "400 body: $(cat "$tmp/body")"
check "Content-Type of API errors" application/json "$(hdr Content-Type)"

for s in $id $id2; do
	[ -n "$s" ] && get "/api/sessions/$s" -X DELETE -c "$tmp/jar" -b "$tmp/jar" >/dev/null
done
[ "$failures" -eq 0 ]
