/* SPDX-License-Identifier: ISC */
/*
 * The depth bound on JSON from outside: a table of texts with the depth
 * yajl would reach in them (strings, escapes and comments hide brackets),
 * and json_parse() refusing deep texts, however deep, before yajl runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/unit.h"

#include "common/json.h"

static void
test_depth(void **state)
{
	static const struct {
		const char *text;
		int depth; /* the deepest nesting yajl would see */
	} cases[] = {
	    {"", 0},
	    {"1", 0},
	    {"[]", 1},
	    {"[[]]", 2},
	    {"{\"a\":{\"b\":[1]}}", 3},
	    {"[],[],[]", 1},
	    {"\"[[[[\"", 0},
	    {"\"\\\"[[[\"", 0},
	    {"\"\\\\\"[[", 2},
	    {"\"\\u005c\"[[", 2},
	    {"[\"]]]]\"[", 2},
	    {"\"[[[", 0},
	    {"\"\\", 0},
	    {"/* [[ */", 0},
	    {"/* \" */ [[", 2},
	    {"// \"\n[[", 2},
	    {"// [[[", 0},
	    {"/*/ [[ */", 0},
	    {"/**/[[", 2},
	    {"/* **/[[", 2},
	    {"/ [[", 2},
	    {"]]]][[", 2},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;
		int d = cases[i].depth;

		if (!json_depth_ok(t, strlen(t), d))
			fail_msg("%s: refused at depth %d", t, d);
		if (d > 0 && json_depth_ok(t, strlen(t), d - 1))
			fail_msg("%s: passed at depth %d", t, d - 1);
	}
}

/* n brackets after prefix, then n closing ones; the caller frees it. */
static char *
nested(const char *prefix, size_t n)
{
	size_t plen = strlen(prefix), i;
	char *s = malloc(plen + 2 * n + 1);

	assert_non_null(s);
	memcpy(s, prefix, plen);
	for (i = 0; i < n; i++) {
		s[plen + i] = '[';
		s[plen + n + i] = ']';
	}
	s[plen + 2 * n] = '\0';
	return s;
}

static void
test_parse(void **state)
{
	static const char *prefixes[] = {"", "/* \" */ ", "// \"\n"};
	char err[128], *s;
	yajl_val tree;
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		/* yajl's tree parser takes comments: the scan must too. */
		s = nested(prefixes[i], JSON_MAX_DEPTH);
		tree = json_parse(s, err, sizeof(err));
		if (tree == NULL)
			fail_msg("%s: refused: %s", s, err);
		yajl_tree_free(tree);
		free(s);

		s = nested(prefixes[i], JSON_MAX_DEPTH + 1);
		err[0] = '\0';
		assert_null(json_parse(s, err, sizeof(err)));
		assert_non_null(strstr(err, "nested deeper than 32 levels"));
		free(s);
	}

	/* What crashed front: 300 000 levels, refused without recursion. */
	s = nested("", 300000);
	assert_null(json_parse(s, err, sizeof(err)));
	assert_null(json_parse(s, NULL, 0));
	free(s);

	/* yajl's own reason, on one line. */
	assert_null(json_parse("{\"a\":", err, sizeof(err)));
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
}

/* Bytes made fit for a JSON string: valid UTF-8 kept, the rest U+FFFD. */
static void
test_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
	    {"plain", 5, "plain"},
	    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
	        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
	    {"a\xff"
	     "b",
	        3,
	        "a\xef\xbf\xbd"
	        "b"},
	    {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
	    {"\xed\xa0\x80", 3,
	        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
	    {"\xf4\x90\x80\x80", 4,
	        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
	    {"ok\xe2\x82", 4, "ok\xef\xbf\xbd\xef\xbf\xbd"}, /* cut short */
	    {"\0x", 2, "\0x"},
	};
	unsigned char out[64];
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = json_utf8(
		    (const unsigned char *)cases[i].in, cases[i].len, out);
		/* the last case holds a NUL: its out is 2 bytes */
		assert_int_equal(n, i == 7 ? 2 : strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, n);
	}
}

UNIT_MAIN(cmocka_unit_test(test_depth), cmocka_unit_test(test_parse),
    cmocka_unit_test(test_utf8))
