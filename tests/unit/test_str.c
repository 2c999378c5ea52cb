/* SPDX-License-Identifier: ISC */
/*
 * Checked strings and numbers: a copy or a format that does not fit says
 * so, and only a whole decimal number in range parses.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/unit.h"

#include "common/str.h"

static void
test_copy(void **state)
{
	char buf[4];

	assert_int_equal(str_copy(buf, sizeof(buf), "abc"), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(str_copy(buf, sizeof(buf), ""), 0);
	assert_string_equal(buf, "");
	assert_int_equal(str_copy(buf, sizeof(buf), "abcd"), -1);
	assert_string_equal(buf, "abc"); /* cut, but terminated */
}

static void
test_fmt(void **state)
{
	char buf[6];

	assert_int_equal(str_fmt(buf, sizeof(buf), "%d-%s", 12, "ab"), 0);
	assert_string_equal(buf, "12-ab");
	assert_int_equal(str_fmt(buf, sizeof(buf), "%d-%s", 123, "ab"), -1);
	assert_string_equal(buf, "123-a");
}

static void
test_num(void **state)
{
	static const struct {
		const char *text;
		long long min, max;
		int ok;
		long long want;
	} cases[] = {
	    {"0", 0, 10, 1, 0},
	    {"10", 0, 10, 1, 10},
	    {"11", 0, 10, 0, 0},
	    {"-1", 0, 10, 0, 0},
	    {"-1", -5, 10, 1, -1},
	    {"", 0, 10, 0, 0},
	    {"-", -5, 10, 0, 0},
	    {" 1", 0, 10, 0, 0},
	    {"+1", 0, 10, 0, 0},
	    {"1 ", 0, 10, 0, 0},
	    {"1x", 0, 10, 0, 0},
	    {"0x1", 0, 10, 0, 0},
	    {"9223372036854775807", 0, LLONG_MAX, 1, LLONG_MAX},
	    {"9223372036854775808", 0, LLONG_MAX, 0, 0},
	    {"-9223372036854775808", LLONG_MIN, 0, 1, LLONG_MIN},
	    {"-9223372036854775809", LLONG_MIN, 0, 0, 0},
	    {"65535", 0, UINT16_MAX, 1, 65535},
	    {"65536", 0, UINT16_MAX, 0, 0},
	};
	long long n;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = 42;
		if ((str_num(cases[i].text, cases[i].min, cases[i].max, &n) ==
		        0) != cases[i].ok)
			fail_msg("'%s' in [%lld, %lld]: %s", cases[i].text,
			    cases[i].min, cases[i].max,
			    cases[i].ok ? "refused" : "taken");
		if (cases[i].ok && n != cases[i].want)
			fail_msg("'%s': %lld, not %lld", cases[i].text, n,
			    cases[i].want);
		if (!cases[i].ok && n != 42)
			fail_msg(
			    "'%s': refused but *out changed", cases[i].text);
	}
}

/* RFC 4648's vectors, and the room each needs: cut one short, refused. */
static void
test_base64(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
	    {"", 0, ""},
	    {"f", 1, "Zg=="},
	    {"fo", 2, "Zm8="},
	    {"foo", 3, "Zm9v"},
	    {"foob", 4, "Zm9vYg=="},
	    {"fooba", 5, "Zm9vYmE="},
	    {"foobar", 6, "Zm9vYmFy"},
	    {"\xff\xfe\x00", 3, "//4A"},
	};
	char buf[16];
	size_t i, need;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		need = strlen(cases[i].out) + 1;
		assert_int_equal(
		    str_base64(buf, need, cases[i].in, cases[i].len), 0);
		assert_string_equal(buf, cases[i].out);
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(
		    str_base64(buf, need - 1, cases[i].in, cases[i].len), -1);
		assert_int_equal(buf[0], 'x');
	}
}

UNIT_MAIN(cmocka_unit_test(test_copy), cmocka_unit_test(test_fmt),
    cmocka_unit_test(test_num), cmocka_unit_test(test_base64))
