/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of common/proxy.c: which peers are trusted, and the client
 * address and scheme taken from forwarded headers of requests parsed by
 * the real HTTP parser; malformed headers fall back to the peer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/unit.h"

#include "common/http.h"
#include "common/proxy.h"

#define TRUST "127.0.0.1, 10.0.0.0/8, fd00::/8, ::1"
/* Fifteen trusted proxies: with the client, the most a header may list. */
#define HOPS_15                                                           \
	"10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, 10.0.0.6, "    \
	"10.0.0.7, 10.0.0.8, 10.0.0.9, 10.0.0.10, 10.0.0.11, 10.0.0.12, " \
	"10.0.0.13, 10.0.0.14, 10.0.0.15"

static const struct {
	const char *addr;
	int trusted;
} trust_cases[] = {
    {"127.0.0.1", 1},
    {"127.0.0.2", 0},
    {"10.255.1.2", 1},
    {"11.0.0.1", 0},
    {"::1", 1},
    {"::2", 0},
    {"fd12:3456::1", 1},
    {"fe80::1", 0},
    {"::ffff:127.0.0.1", 1}, /* a dual-stack listener's view */
    {"::ffff:10.1.2.3", 1},
    {"::ffff:127.0.0.3", 0},
    {"", 0},
    {"garbage", 0},
    {"127.0.0.1:80", 0},
};

static void
test_trusted(void **state)
{
	struct proxy_trust t;
	char err[256];
	size_t i;

	assert_int_equal(proxy_trust_parse(&t, TRUST, err, sizeof(err)), 0);
	assert_int_equal(t.n, 4);
	for (i = 0; i < sizeof(trust_cases) / sizeof(trust_cases[0]); i++) {
		if (proxy_trusted(&t, trust_cases[i].addr) !=
		    trust_cases[i].trusted)
			fail_msg("%s: expected %d", trust_cases[i].addr,
			    trust_cases[i].trusted);
	}
	/* /0 trusts every address of its family, and only those */
	assert_int_equal(proxy_trust_parse(&t, "0.0.0.0/0", err, 256), 0);
	assert_true(proxy_trusted(&t, "203.0.113.9"));
	assert_false(proxy_trusted(&t, "2001:db8::1"));
	/* a /20 cuts inside a byte */
	assert_int_equal(proxy_trust_parse(&t, "172.16.0.0/12", err, 256), 0);
	assert_true(proxy_trusted(&t, "172.31.255.255"));
	assert_false(proxy_trusted(&t, "172.32.0.0"));
	assert_false(proxy_trusted(&t, "172.15.255.255"));
	/* empty: nobody */
	assert_int_equal(proxy_trust_parse(&t, " , ", err, 256), 0);
	assert_int_equal(t.n, 0);
	assert_false(proxy_trusted(&t, "127.0.0.1"));
}

static void
test_parse_limits(void **state)
{
	struct proxy_trust t;
	char err[256], list[2048], out[64];
	int i;

	list[0] = '\0';
	for (i = 0; i < PROXY_MAX_NETS; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "10.0.%d.0/24 ", i);
	assert_int_equal(proxy_trust_parse(&t, list, err, sizeof(err)), 0);
	strcat(list, "192.0.2.1");
	assert_int_equal(proxy_trust_parse(&t, list, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 64 entries"));
	/* a normalised list that does not fit is refused, not cut */
	assert_int_equal(proxy_trust_parse(&t, "10.0.0.0/8 ::1", err, 256), 0);
	assert_int_equal(proxy_trust_format(&t, out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.0/8, ::1");
	assert_int_equal(proxy_trust_format(&t, out, 15), -1);
}

struct client_case {
	const char *name;
	const char *peer;
	const char *headers; /* header lines, each ending "\r\n" */
	int tls;             /* the connection's own scheme */
	const char *client;
	int https;
	int flags;
};

static const struct client_case client_cases[] = {
    {"untrusted peer: headers ignored", "127.0.0.4",
        "X-Forwarded-For: 127.0.0.3\r\nX-Forwarded-Proto: https\r\n", 0,
        "127.0.0.4", 0, 0},
    {"untrusted peer keeps its TLS", "192.0.2.7", "X-Forwarded-Proto: http\r\n",
        1, "192.0.2.7", 1, 0},
    {"trusted peer, no headers", "127.0.0.1", "", 0, "127.0.0.1", 0, 0},
    {"one hop", "127.0.0.1",
        "X-Forwarded-For: 127.0.0.3\r\nX-Forwarded-Proto: http\r\n", 0,
        "127.0.0.3", 0, PROXY_FOR | PROXY_PROTO},
    {"https at the proxy", "127.0.0.1",
        "X-Forwarded-For: 203.0.113.5\r\nX-Forwarded-Proto: HTTPS\r\n", 0,
        "203.0.113.5", 1, PROXY_FOR | PROXY_PROTO},
    {"forged entries left of the proxy's are not read", "127.0.0.1",
        "X-Forwarded-For: 1.2.3.4, 127.0.0.1, 198.51.100.2\r\n", 0,
        "198.51.100.2", 0, PROXY_FOR},
    {"garbage left of the proxy's entry is not read", "127.0.0.1",
        "X-Forwarded-For: <script>, \xff\xfe, unknown\r\n"
        "X-Forwarded-For: 198.51.100.2\r\n",
        0, "198.51.100.2", 0, PROXY_FOR},
    {"two trusted hops", "10.0.0.2",
        "X-Forwarded-For: 198.51.100.2, 10.9.9.9\r\n", 0, "198.51.100.2", 0,
        PROXY_FOR},
    {"lines are one list, last line last", "10.0.0.2",
        "X-Forwarded-For: 198.51.100.2\r\nX-Forwarded-For: 10.9.9.9\r\n", 0,
        "198.51.100.2", 0, PROXY_FOR},
    {"all trusted: the left-most", "127.0.0.1",
        "X-Forwarded-For: 10.0.0.5, 127.0.0.1\r\n", 0, "10.0.0.5", 0,
        PROXY_FOR},
    {"IPv6 client", "::1", "X-Forwarded-For: 2001:db8::7\r\n", 0, "2001:db8::7",
        0, PROXY_FOR},
    {"bracketed IPv6 with a port", "::1",
        "X-Forwarded-For: [2001:db8::7]:4711\r\n", 0, "2001:db8::7", 0,
        PROXY_FOR},
    {"IPv4 with a port", "127.0.0.1", "X-Forwarded-For: 198.51.100.2:4711\r\n",
        0, "198.51.100.2", 0, PROXY_FOR},
    {"mapped peer and client fold to IPv4", "::ffff:127.0.0.1",
        "X-Forwarded-For: ::ffff:198.51.100.2\r\n", 0, "198.51.100.2", 0,
        PROXY_FOR},
    {"mapped peer untrusted", "::ffff:127.0.0.4",
        "X-Forwarded-For: 198.51.100.2\r\n", 0, "127.0.0.4", 0, 0},
    {"empty elements skipped", "127.0.0.1",
        "X-Forwarded-For: , 198.51.100.2 ,,\r\n", 0, "198.51.100.2", 0,
        PROXY_FOR},
    {"empty header", "127.0.0.1", "X-Forwarded-For: \r\n", 0, "127.0.0.1", 0,
        0},
    {"name any case", "127.0.0.1",
        "x-forwarded-for: 198.51.100.2\r\nx-forwarded-proto: https\r\n", 0,
        "198.51.100.2", 1, PROXY_FOR | PROXY_PROTO},
    {"garbage entry", "127.0.0.1", "X-Forwarded-For: not-an-address\r\n", 0,
        "127.0.0.1", 0, PROXY_BAD},
    {"hostname", "127.0.0.1", "X-Forwarded-For: client.example\r\n", 0,
        "127.0.0.1", 0, PROXY_BAD},
    {"address too long", "127.0.0.1",
        "X-Forwarded-For: "
        "0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0001\r\n",
        0, "127.0.0.1", 0, PROXY_BAD},
    {"v4 in brackets", "127.0.0.1", "X-Forwarded-For: [198.51.100.2]\r\n", 0,
        "127.0.0.1", 0, PROXY_BAD},
    {"unclosed bracket", "127.0.0.1", "X-Forwarded-For: [2001:db8::7\r\n", 0,
        "127.0.0.1", 0, PROXY_BAD},
    {"port not digits", "127.0.0.1", "X-Forwarded-For: 198.51.100.2:http\r\n",
        0, "127.0.0.1", 0, PROXY_BAD},
    {"empty port", "127.0.0.1", "X-Forwarded-For: [::2]:\r\n", 0, "127.0.0.1",
        0, PROXY_BAD},
    {"a trusted hop after garbage", "127.0.0.1",
        "X-Forwarded-For: 198.51.100.2, x, 127.0.0.1\r\n", 0, "127.0.0.1", 0,
        PROXY_BAD},
    {"too many trusted hops", "127.0.0.1",
        "X-Forwarded-For: 198.51.100.2, " HOPS_15 ", 10.0.0.16\r\n", 0,
        "127.0.0.1", 0, PROXY_BAD},
    {"sixteen hops are fine", "127.0.0.1",
        "X-Forwarded-For: 198.51.100.2, " HOPS_15 "\r\n", 0, "198.51.100.2", 0,
        PROXY_FOR},
    {"scheme not http or https", "127.0.0.1", "X-Forwarded-Proto: ftp\r\n", 0,
        "127.0.0.1", 0, PROXY_BAD},
    {"scheme list", "127.0.0.1", "X-Forwarded-Proto: https, http\r\n", 1,
        "127.0.0.1", 1, PROXY_BAD},
    {"scheme twice", "127.0.0.1",
        "X-Forwarded-Proto: https\r\nX-Forwarded-Proto: https\r\n", 0,
        "127.0.0.1", 0, PROXY_BAD},
    {"bad scheme, good address", "127.0.0.1",
        "X-Forwarded-For: 198.51.100.2\r\nX-Forwarded-Proto: gopher\r\n", 0,
        "198.51.100.2", 0, PROXY_FOR | PROXY_BAD},
    {"peer that is no address", "fd 7", "X-Forwarded-For: 198.51.100.2\r\n", 0,
        "fd 7", 0, 0},
};

static void
test_client(void **state)
{
	static const struct http_limits lim = {256, 32, 4096, 64};
	const struct client_case *tc;
	const struct http_request *req;
	struct http_parser *p;
	struct proxy_trust t;
	char err[256], text[2048], client[PROXY_ADDR_LEN];
	size_t i, used;
	int https, flags;

	assert_int_equal(proxy_trust_parse(&t, TRUST, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(client_cases) / sizeof(client_cases[0]); i++) {
		tc = &client_cases[i];
		snprintf(text, sizeof(text),
		    "GET / HTTP/1.1\r\nHost: h\r\n%s\r\n", tc->headers);
		p = http_parser_new(&lim);
		if (http_parse(p, text, strlen(text), &used) != HTTP_DONE)
			fail_msg("%s: not parsed: %s", tc->name,
			    http_parser_error(p));
		req = http_parser_request(p);
		https = tc->tls;
		flags = proxy_client(
		    &t, req, tc->peer, client, sizeof(client), &https);
		if (strcmp(client, tc->client) != 0 || https != tc->https ||
		    flags != tc->flags)
			fail_msg("%s: got %s https %d flags %d, expected %s %d "
			         "%d",
			    tc->name, client, https, flags, tc->client,
			    tc->https, tc->flags);
		/* nobody trusted: always the peer */
		https = tc->tls;
		flags = proxy_client(
		    NULL, req, tc->peer, client, sizeof(client), &https);
		assert_int_equal(flags, 0);
		assert_int_equal(https, tc->tls);
		http_parser_free(p);
	}
}

UNIT_MAIN(cmocka_unit_test(test_trusted), cmocka_unit_test(test_parse_limits),
    cmocka_unit_test(test_client))
