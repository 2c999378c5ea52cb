/* SPDX-License-Identifier: ISC */
/*
 * The parser of browsers' JSON control messages: accepted resize and ping
 * messages, and a table of refusals, each with the fragment its message
 * must contain.
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

#include "worker/ws.h"

#define RANGE  "resize: cols and rows must be between 1 and 1000"
#define ERRLEN 160

/* Parses the text json into c; err is emptied first, then holds why. */
static int
parse(const char *json, struct ws_control *c, char *err)
{
	err[0] = '\0';
	return ws_control_parse(json, strlen(json), c, err, ERRLEN);
}

/* Parses the text json into c, failing the test if it is refused. */
static void
parse_good(const char *json, struct ws_control *c)
{
	char err[ERRLEN];

	if (parse(json, c, err) != 0)
		fail_msg("%s: refused: %s", json, err);
}

static void
test_good(void **state)
{
	static const struct {
		const char *json;
		enum ws_control_type type;
		uint16_t cols, rows;
	} cases[] = {
	    {"{\"type\":\"ping\"}", WS_CONTROL_PING, 0, 0},
	    {" { \"type\" : \"ping\" , \"extra\": [1, {\"a\": null}] } ",
	        WS_CONTROL_PING, 0, 0},
	    {"{\"type\":\"resize\",\"cols\":80,\"rows\":24}", WS_CONTROL_RESIZE,
	        80, 24},
	    {"{\"rows\":1,\"cols\":1,\"type\":\"resize\"}", WS_CONTROL_RESIZE,
	        1, 1},
	    {"{\"type\":\"resize\",\"cols\":1000,\"rows\":1000}",
	        WS_CONTROL_RESIZE, 1000, 1000},
	    {"{\"type\":\"resize\",\"cols\":132,\"rows\":43,\"x\":\"y\"}",
	        WS_CONTROL_RESIZE, 132, 43},
	    {"{\"type\":\"res\\u0069ze\",\"cols\":2,\"rows\":3}",
	        WS_CONTROL_RESIZE, 2, 3},
	    /* 32 levels, JSON_MAX_DEPTH: deep but allowed. */
	    {"{\"type\":\"ping\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	        WS_CONTROL_PING, 0, 0},
	};
	struct ws_control c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_good(cases[i].json, &c);
		assert_int_equal(c.type, cases[i].type);
		assert_int_equal(c.cols, cases[i].cols);
		assert_int_equal(c.rows, cases[i].rows);
	}
}

/* {"type":"control","action":A} for each action. */
static void
test_control(void **state)
{
	static const struct {
		const char *json;
		enum ws_action action;
	} cases[] = {
	    {"{\"type\":\"control\",\"action\":\"request\"}",
	        WS_ACTION_REQUEST},
	    {"{\"action\":\"grant\",\"type\":\"control\"}", WS_ACTION_GRANT},
	    {"{\"type\":\"control\",\"action\":\"deny\",\"x\":[1]}",
	        WS_ACTION_DENY},
	    {"{\"type\":\"control\",\"action\":\"return\"}", WS_ACTION_RETURN},
	};
	struct ws_control c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_good(cases[i].json, &c);
		assert_int_equal(c.type, WS_CONTROL_CONTROL);
		assert_int_equal(c.action, cases[i].action);
	}
}

static void
test_bad(void **state)
{
	static const struct {
		const char *json;
		const char *err;
	} cases[] = {
	    {"", "invalid JSON"},
	    {"{", "invalid JSON"},
	    {"{\"type\":\"ping\"", "invalid JSON"},
	    {"{\"type\":\"ping\"}x", "invalid JSON"},
	    {"{\"type\":\"ping\"}{}", "invalid JSON"},
	    {"{type:\"ping\"}", "invalid JSON"},
	    {"{\"type\":'ping'}", "invalid JSON"},
	    {"\"ping\"", "must be a JSON object"},
	    {"42", "must be a JSON object"},
	    {"null", "must be a JSON object"},
	    {"[]", "must be a JSON object"},
	    {"[{\"type\":\"ping\"}]", "must be a JSON object"},
	    {"{}", "no \"type\""},
	    {"{\"kind\":\"ping\"}", "no \"type\""},
	    {"{\"type\":\"control\"}", "action must be"},
	    {"{\"type\":\"control\",\"action\":\"steal\"}", "action must be"},
	    {"{\"type\":\"control\",\"action\":7}", "action must be"},
	    {"{\"type\":\"control\",\"action\":\"grant\",\"action\":"
	     "\"deny\"}",
	        "duplicate key \"action\""},
	    {"{\"type\":7}", "\"type\" must be a string"},
	    {"{\"type\":null}", "\"type\" must be a string"},
	    {"{\"type\":[\"ping\"]}", "\"type\" must be a string"},
	    {"{\"type\":{\"a\":1}}", "\"type\" must be a string"},
	    {"{\"type\":\"launch\"}", "unknown message type \"launch\""},
	    {"{\"type\":\"PING\"}", "unknown message type"},
	    {"{\"type\":\"\"}", "unknown message type"},
	    {"{\"type\":\"a-very-long-type-name-that-goes-on\"}",
	        "unknown message type"},
	    {"{\"type\":\"resize\"}", "resize: cols is missing"},
	    {"{\"type\":\"resize\",\"cols\":80}", "resize: rows is missing"},
	    {"{\"type\":\"resize\",\"rows\":24}", "resize: cols is missing"},
	    {"{\"type\":\"resize\",\"cols\":\"80\",\"rows\":24}",
	        "resize: cols must be an integer"},
	    {"{\"type\":\"resize\",\"cols\":80,\"rows\":\"24\"}",
	        "resize: rows must be an integer"},
	    {"{\"type\":\"resize\",\"cols\":80.5,\"rows\":24}",
	        "resize: cols must be an integer"},
	    {"{\"type\":\"resize\",\"cols\":80.0,\"rows\":24}",
	        "resize: cols must be an integer"},
	    {"{\"type\":\"resize\",\"cols\":8e1,\"rows\":24}",
	        "resize: cols must be an integer"},
	    {"{\"type\":\"resize\",\"cols\":true,\"rows\":24}",
	        "resize: cols must be an integer"},
	    {"{\"type\":\"resize\",\"cols\":null,\"rows\":24}",
	        "resize: cols must be an integer"},
	    {"{\"type\":\"resize\",\"cols\":[80],\"rows\":24}",
	        "resize: cols must be an integer"},
	    {"{\"type\":\"resize\",\"cols\":-80,\"rows\":24}", RANGE},
	    {"{\"type\":\"resize\",\"cols\":0,\"rows\":24}", RANGE},
	    {"{\"type\":\"resize\",\"cols\":80,\"rows\":0}", RANGE},
	    {"{\"type\":\"resize\",\"cols\":1001,\"rows\":24}", RANGE},
	    {"{\"type\":\"resize\",\"cols\":100000,\"rows\":100000}", RANGE},
	    {"{\"type\":\"resize\",\"cols\":65616,\"rows\":24}", RANGE},
	    {"{\"type\":\"resize\",\"cols\":4294967376,\"rows\":24}", RANGE},
	    {"{\"type\":\"resize\",\"cols\":99999999999999999999999999999,"
	     "\"rows\":24}",
	        RANGE},
	    {"{\"type\":\"resize\",\"cols\":-99999999999999999999999999999,"
	     "\"rows\":24}",
	        RANGE},
	    {"{\"type\":\"ping\",\"type\":\"ping\"}", "duplicate key \"type\""},
	    {"{\"type\":\"resize\",\"cols\":80,\"cols\":90,\"rows\":24}",
	        "duplicate key \"cols\""},
	    {"{\"type\":\"resize\",\"rows\":1,\"cols\":80,\"rows\":24}",
	        "duplicate key \"rows\""},
	    /* 33 levels: one more than JSON_MAX_DEPTH. */
	    {"{\"type\":\"ping\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	        "nested too deeply"},
	};
	struct ws_control c;
	char err[ERRLEN];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse(cases[i].json, &c, err) != -1)
			fail_msg("%s: accepted", cases[i].json);
		if (strstr(err, cases[i].err) == NULL)
			fail_msg("%s: error '%s', want '%s'", cases[i].json,
			    err, cases[i].err);
		assert_null(strchr(err, '\n'));
	}
}

static void
test_deep_nesting(void **state)
{
	size_t depth = 1000000, i;
	struct ws_control c;
	char err[ERRLEN], *s;

	s = malloc(2 * depth + 1);
	assert_non_null(s);
	for (i = 0; i < depth; i++) {
		s[i] = '[';
		s[depth + i] = ']';
	}
	s[2 * depth] = '\0';
	assert_int_equal(
	    ws_control_parse(s, 2 * depth, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nested too deeply"));
	s[0] = '{';
	memcpy(s + 1, "\"a\":", 4);
	assert_int_equal(
	    ws_control_parse(s, 2 * depth, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nested too deeply"));
	free(s);
}

UNIT_MAIN(cmocka_unit_test(test_good), cmocka_unit_test(test_bad),
    cmocka_unit_test(test_control), cmocka_unit_test(test_deep_nesting))
