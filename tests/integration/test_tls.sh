#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# TLS: makes a throwaway self-signed certificate, then runs test_tls.py
# against a server that speaks only HTTPS and WSS.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
chmod 644 "$tmp/cert.pem" "$tmp/key.pem"
chmod 755 "$tmp"
export ALIA_TLS_CERT="$tmp/cert.pem" ALIA_TLS_KEY="$tmp/key.pem" ALIA_AUTH=password
"$here/with-server.sh" /usr/bin/python3 "$here/test_tls.py"
