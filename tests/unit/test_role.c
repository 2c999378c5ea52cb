/* SPDX-License-Identifier: ISC */
/*
 * role_keep_memory: heap freed after a burst stays with the process (no
 * page faults for the next burst's buffers) while the role is busy, and
 * goes back to the kernel at the first trim tick that saw no role_busy().
 * Measured as the process's resident pages; the tick is fired by hand
 * rather than waited for (ROLE_TRIM_SEC). Under AddressSanitizer malloc
 * is its own and glibc's settings mean nothing: skipped there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "common/role.h"
#include "tests/unit/unit.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define CHUNK  (64 * 1024) /* an event's buffer */
#define CHUNKS 96          /* 6 MiB: a burst */
#define KEEP   (8 * 1024 * 1024)
#define MIB    (1024 * 1024)

/* Resident bytes of this process. */
static long
resident(void)
{
	long size, res;
	FILE *f;

	f = fopen("/proc/self/statm", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &size, &res), 2);
	fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

/* Allocates and touches a burst's buffers, then frees them all. */
static void
burst(void)
{
	static void *p[CHUNKS];
	int i;

	for (i = 0; i < CHUNKS; i++) {
		p[i] = malloc(CHUNK);
		assert_non_null(p[i]);
		memset(p[i], 'x', CHUNK);
	}
	for (i = CHUNKS - 1; i >= 0; i--)
		free(p[i]);
}

/* Runs the trim tick now, as its timer would. */
static void
tick(struct role *r)
{
	event_active(r->ev_trim, EV_TIMEOUT, 1);
	assert_int_equal(event_base_loop(r->base, EVLOOP_NONBLOCK), 0);
}

static void
test_keep_then_trim(void **state)
{
	struct role r;
	long before, kept;

	(void)state;
#ifdef UNDER_ASAN
	skip();
#endif
	memset(&r, 0, sizeof(r));
	assert_non_null(r.base = event_base_new());
	role_keep_memory(&r, KEEP);
	assert_non_null(r.ev_trim);

	before = resident();
	burst();
	kept = resident();
	/* freed, and still resident: the next burst faults nothing in */
	assert_true(kept - before >= 5 * MIB);

	/* a tick that saw the role busy keeps it */
	role_busy(&r);
	tick(&r);
	assert_true(resident() - before >= 5 * MIB);

	/* the next tick, with nothing since, gives it back */
	tick(&r);
	assert_true(resident() - before < 1 * MIB);

	/* and a burst after that is kept again */
	burst();
	assert_true(resident() - before >= 5 * MIB);

	event_free(r.ev_trim);
	event_base_free(r.base);
}

UNIT_MAIN(cmocka_unit_test(test_keep_then_trim))
