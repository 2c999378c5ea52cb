/* SPDX-License-Identifier: ISC */
/*
 * The backoff: waits double from the minimum to the maximum and stay
 * there, a reset starts again at the minimum, arming adds the timer for
 * the wait due, and backoff_next counts the same waits without a timer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/unit.h"
#include <event2/event.h>

#include "common/backoff.h"

struct backoff_case {
	int min_ms, max_ms;
	int waits[8]; /* what eight arms in a row return */
};

static const struct backoff_case cases[] = {
    {100, 5000, {100, 200, 400, 800, 1600, 3200, 5000, 5000}},
    {100, 10000, {100, 200, 400, 800, 1600, 3200, 6400, 10000}},
    {300, 1000, {300, 600, 1000, 1000, 1000, 1000, 1000, 1000}},
    {50, 50, {50, 50, 50, 50, 50, 50, 50, 50}},
};

static void
no_op(evutil_socket_t fd, short what, void *arg)
{
}

static void
test_doubling(void **state)
{
	struct event_base *base = event_base_new();
	struct event *ev = evtimer_new(base, no_op, NULL);
	struct backoff b;
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		backoff_init(&b, cases[i].min_ms, cases[i].max_ms);
		assert_false(backoff_failing(&b));
		for (k = 0; k < 8; k++) {
			assert_int_equal(backoff_due(&b), cases[i].waits[k]);
			assert_int_equal(
			    backoff_arm(&b, ev), cases[i].waits[k]);
			assert_true(evtimer_pending(ev, NULL));
			event_del(ev);
		}
		backoff_reset(&b);
		for (k = 0; k < 8; k++)
			assert_int_equal(backoff_next(&b), cases[i].waits[k]);
		assert_int_equal(
		    backoff_failing(&b), cases[i].max_ms > cases[i].min_ms);
		backoff_reset(&b);
		assert_false(backoff_failing(&b));
		assert_int_equal(backoff_due(&b), cases[i].min_ms);
	}
	event_free(ev);
	event_base_free(base);
}

UNIT_MAIN(cmocka_unit_test(test_doubling))
