#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# alia on Docker engines that are not this host's own: engines.py starts
# two real dockerds in network namespaces of this test's (one on TCP, one
# on TLS with certificates it makes), and test_remote_engine.py runs
# against an alia pointed at each in turn through DOCKER_HOST (and
# DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), as an operator does today; then
# at the TLS engine with a CA that did not sign its certificate.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2016 # expanded by the inner shell
exec /usr/bin/python3 "$here/engines.py" --plain e1 --tls e2 -- bash -c '
set -eu
here=$1
echo "# the engine on TCP: $ALIA_TEST_ENGINE_E1_HOST"
DOCKER_HOST=$ALIA_TEST_ENGINE_E1_HOST "$here/with-server.sh" \
	/usr/bin/python3 "$here/test_remote_engine.py" works
echo "# the engine on TLS: $ALIA_TEST_ENGINE_E2_HOST"
DOCKER_HOST=$ALIA_TEST_ENGINE_E2_HOST DOCKER_TLS_VERIFY=1 \
	DOCKER_CERT_PATH=$ALIA_TEST_ENGINE_E2_CERT_PATH "$here/with-server.sh" \
	/usr/bin/python3 "$here/test_remote_engine.py" tls
echo "# the engine on TLS, with a CA that did not sign its certificate"
DOCKER_HOST=$ALIA_TEST_ENGINE_E2_HOST DOCKER_TLS_VERIFY=1 \
	DOCKER_CERT_PATH=$ALIA_TEST_ENGINE_E2_UNTRUSTED_CERT_PATH \
	ALIA_POOL=0 "$here/with-server.sh" \
	/usr/bin/python3 "$here/test_remote_engine.py" untrusted
' engines "$here"
