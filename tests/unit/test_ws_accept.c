/* SPDX-License-Identifier: ISC */
/*
 * The websocket handshake's Sec-WebSocket-Accept (worker/ws.c, SHA-1 from
 * libmd and common/str.c's base64): RFC 6455's own example, and a key too
 * long or a buffer too short refused.
 */
#include <string.h>

#include "tests/unit/unit.h"

#include "worker/ws.h"

static void
test_rfc6455(void **state)
{
	char out[29], key[200];

	assert_int_equal(
	    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out, sizeof(out)), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(
	    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out, sizeof(out) - 1),
	    -1);
	memset(key, 'a', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(ws_accept_key(key, out, sizeof(out)), -1);
}

UNIT_MAIN(cmocka_unit_test(test_rfc6455))
