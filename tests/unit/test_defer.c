/* SPDX-License-Identifier: ISC */
/*
 * Deferred frees: objects queued inside a callback are all still there
 * when it returns, and are freed after it, in the order queued; an
 * object queued twice is freed once, a cancelled one not at all, and
 * what a free queues waits for a later run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/unit.h"
#include <event2/event.h>

#include "common/defer.h"
#include "common/xmalloc.h"

#define NOBJ  4
#define MAGIC 0x5eed

struct obj {
	struct defer defer;
	int magic;
	char name;
	char chain; /* an object its free queues, or 0 */
};

struct defer_case {
	const char *ops; /* a..d: queue that object; A..D: cancel it */
	const char *freed;
};

static const struct defer_case cases[] = {
    {"abcd", "abcd"},
    {"dcba", "dcba"},
    {"abab", "ab"},
    {"aba", "ab"},
    {"abA", "b"},
    {"aAa", "a"},
    {"abcB", "ac"},
    {"", ""},
};

static struct {
	struct event_base *base;
	struct obj *objs[NOBJ];
	char log[16]; /* the names freed, in order */
	size_t nlog;
	const struct defer_case *c;
} t;

static void
obj_free(void *arg)
{
	struct obj *o = arg, *next = NULL;

	assert_int_equal(o->magic, MAGIC);
	assert_true(t.nlog < sizeof(t.log) - 1);
	t.log[t.nlog++] = o->name;
	t.objs[o->name - 'a'] = NULL;
	if (o->chain != 0)
		next = t.objs[o->chain - 'a'];
	o->magic = 0;
	free(o);
	if (next != NULL) {
		/* Queued from inside a run: not freed by this one. */
		defer_queue(t.base, &next->defer, obj_free, next);
		assert_int_equal(next->magic, MAGIC);
		assert_null(memchr(t.log, next->name, t.nlog));
	}
}

static void
objs_new(void)
{
	int i;

	memset(t.log, 0, sizeof(t.log));
	t.nlog = 0;
	for (i = 0; i < NOBJ; i++) {
		t.objs[i] = xcalloc(1, sizeof(*t.objs[i]));
		t.objs[i]->magic = MAGIC;
		t.objs[i]->name = (char)('a' + i);
	}
}

/* Frees what the case left unqueued. */
static void
objs_free(void)
{
	int i;

	for (i = 0; i < NOBJ; i++) {
		assert_false(
		    t.objs[i] != NULL && defer_queued(&t.objs[i]->defer));
		free(t.objs[i]);
		t.objs[i] = NULL;
	}
}

/* The callback that queues: every object is still whole as it returns. */
static void
ops_cb(evutil_socket_t fd, short what, void *arg)
{
	const char *op;
	struct obj *o;
	int i;

	for (op = t.c->ops; *op != '\0'; op++) {
		if (*op >= 'a' && *op <= 'd') {
			o = t.objs[*op - 'a'];
			defer_queue(t.base, &o->defer, obj_free, o);
			assert_true(defer_queued(&o->defer));
		} else {
			o = t.objs[*op - 'A'];
			defer_cancel(&o->defer);
			assert_false(defer_queued(&o->defer));
		}
	}
	assert_int_equal(t.nlog, 0);
	for (i = 0; i < NOBJ; i++)
		assert_int_equal(t.objs[i]->magic, MAGIC);
}

static void
run_ops(const struct defer_case *c)
{
	struct timeval now = {0, 0};

	t.c = c;
	assert_int_equal(
	    event_base_once(t.base, -1, EV_TIMEOUT, ops_cb, NULL, &now), 0);
	assert_int_not_equal(event_base_dispatch(t.base), -1);
}

static void
test_order(void **state)
{
	size_t i;

	t.base = event_base_new();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		objs_new();
		run_ops(&cases[i]);
		assert_string_equal(t.log, cases[i].freed);
		objs_free();
	}
	event_base_free(t.base);
}

/* A free that queues another object: that one goes in a later run. */
static void
test_chain(void **state)
{
	static const struct defer_case c = {"ab", "abc"};

	t.base = event_base_new();
	objs_new();
	t.objs[0]->chain = 'c';
	run_ops(&c);
	assert_string_equal(t.log, c.freed);
	objs_free();
	event_base_free(t.base);
}

UNIT_MAIN(cmocka_unit_test(test_order), cmocka_unit_test(test_chain))
