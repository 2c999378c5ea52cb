/* SPDX-License-Identifier: ISC */
/*
 * front_pwhash: password checks on threads, answered in the event loop;
 * the bound on jobs; the loop keeps running while a check takes its time;
 * every job called back exactly once, also when dropped at shutdown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/unit.h"
#include <event2/event.h>
#include <sodium.h>

#include "front/front.h"

#define NJOBS    8
/*
 * Three times the passes of a sign-in's hash: a check takes most of a
 * second, far longer than any scheduling delay the timer test could meet
 * on a busy machine.
 */
#define SLOW_OPS (3 * crypto_pwhash_OPSLIMIT_INTERACTIVE)

struct result {
	int calls;
	int result;
	int order; /* when it was called back, counting the timer too */
};

static int order;
static struct result results[NJOBS];
static struct event_base *base;

static void
done_cb(int result, void *arg)
{
	struct result *r = arg;

	r->calls++;
	r->result = result;
	r->order = ++order;
}

/*
 * Hashes pw into out (slowly when slow), then starts front_pwhash with
 * nthreads threads and room for max_jobs jobs.
 */
static void
start(char *out, const char *pw, int slow, int nthreads, int max_jobs)
{
	assert_int_equal(crypto_pwhash_str(out, pw, strlen(pw),
	                     slow ? SLOW_OPS : crypto_pwhash_OPSLIMIT_MIN,
	                     slow ? crypto_pwhash_MEMLIMIT_INTERACTIVE
	                          : crypto_pwhash_MEMLIMIT_MIN),
	    0);
	front_pwhash_init(base, nthreads, max_jobs);
}

/* Submits a check of pw against h, answered into results[i]. */
static int
verify(const char *h, const char *pw, int i)
{
	return front_pwhash_verify(h, pw, done_cb, &results[i]);
}

/* Runs the loop until n jobs have been called back. */
static void
run_until(int n)
{
	int i, got;

	for (;;) {
		for (got = 0, i = 0; i < NJOBS; i++)
			got += results[i].calls;
		if (got >= n)
			return;
		assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
	}
}

static int
setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	memset(results, 0, sizeof(results));
	order = 0;
	base = event_base_new();
	assert_non_null(base);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	front_pwhash_free();
	event_base_free(base);
	return 0;
}

static void
test_match_and_mismatch(void **state)
{
	char h[crypto_pwhash_STRBYTES];

	(void)state;
	start(h, "correct horse", 0, 2, 8);
	assert_int_equal(verify(h, "correct horse", 0), 0);
	assert_int_equal(verify(h, "correct hors", 1), 0);
	assert_int_equal(verify("not a hash", "x", 2), 0);
	run_until(3);
	assert_int_equal(results[0].calls, 1);
	assert_int_equal(results[0].result, 1);
	assert_int_equal(results[1].calls, 1);
	assert_int_equal(results[1].result, 0);
	assert_int_equal(results[2].result, 0);
	assert_int_equal(front_pwhash_pending(), 0);
}

static void
test_bound(void **state)
{
	char h[crypto_pwhash_STRBYTES];

	(void)state;
	start(h, "pw", 0, 1, 2);
	assert_int_equal(verify(h, "pw", 0), 0);
	assert_int_equal(verify(h, "no", 1), 0);
	assert_int_equal(front_pwhash_pending(), 2);
	/* refused, and never called back */
	assert_int_equal(verify(h, "pw", 2), -1);
	run_until(2);
	assert_int_equal(results[0].result, 1);
	assert_int_equal(results[1].result, 0);
	assert_int_equal(results[2].calls, 0);
	assert_int_equal(front_pwhash_pending(), 0);
	/* room again */
	assert_int_equal(verify(h, "pw", 3), 0);
	run_until(3);
	assert_int_equal(results[3].result, 1);
	assert_int_equal(results[2].calls, 0);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	done_cb(2, arg);
}

/* A 5 ms timer set after a slow check is submitted fires first. */
static void
test_loop_not_blocked(void **state)
{
	char h[crypto_pwhash_STRBYTES];
	struct timeval tv = {0, 5000};
	struct event *tick;

	(void)state;
	start(h, "slow", 1, 1, 8);
	assert_int_equal(verify(h, "slow", 0), 0);
	tick = evtimer_new(base, tick_cb, &results[1]);
	evtimer_add(tick, &tv);
	run_until(2);
	assert_int_equal(results[1].order, 1);
	assert_int_equal(results[0].order, 2);
	assert_int_equal(results[0].result, 1);
	event_free(tick);
}

/* Jobs pending at shutdown are each called back once, with -1. */
static void
test_free_pending(void **state)
{
	char h[crypto_pwhash_STRBYTES];
	int i;

	(void)state;
	start(h, "slow", 1, 1, NJOBS);
	for (i = 0; i < 3; i++)
		assert_int_equal(verify(h, "slow", i), 0);
	front_pwhash_free();
	for (i = 0; i < 3; i++) {
		assert_int_equal(results[i].calls, 1);
		assert_int_equal(results[i].result, -1);
	}
	assert_int_equal(front_pwhash_pending(), 0);
	/* a second free, as teardown does, is harmless */
}

UNIT_MAIN(
    cmocka_unit_test_setup_teardown(test_match_and_mismatch, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
    cmocka_unit_test_setup_teardown(test_loop_not_blocked, setup, teardown),
    cmocka_unit_test_setup_teardown(test_free_pending, setup, teardown))
